"""HTML pages -> structured plain text (one document per page).

Main content comes from the source's selectors (`content.body_selector`, `content.title_selector`,
`content.remove_selectors`) when the spec has them. Otherwise (every page of a source without selectors,
every source added with `gap sources add`) trafilatura's main-content detection finds it
(`main_content_text`), and its result is rendered in the house format and corrected block by block by
the hand-written heuristic, which prunes navigation, scripts, forms, cookie banners and link-dense
blocks (`combine_main_content`: a paragraph trafilatura dropped in mid-article is put back, short
leading/trailing chrome only trafilatura kept is cut); when trafilatura finds nothing, the heuristic's
text is used alone. The text keeps the structure a model can use: headings as `#`/`##`, list items as
`- `, tables linearised as `cell | cell` rows (or reduced to their caption, or dropped:
`options.tables`), link text without URLs.

DTD internal subsets (`<!DOCTYPE html [<!ENTITY xxe SYSTEM ...>]>`: XXE, billion laughs) are cut out
before parsing, with every reference to an entity they declare; nothing is expanded or fetched.

National Guideline Clearinghouse summaries (XML whose fields hold *escaped* HTML) are recognised and
rendered field by field: `## Major Recommendations` etc.

Selectors are a small CSS subset compiled to XPath (tag, `*`, `#id`, `.class`, `[attr]`, `[attr=v]`,
`[attr*=v]`, `[attr^=v]`, `[attr$=v]`, descendant and `>` combinators, `,` lists); anything else is
refused with a clear error rather than silently matching nothing.

Measured (testkit/html_eval.py, BENCHMARKS.md "Generic HTML extraction"): on trafilatura's own
990-page evaluation set and on 120 real guideline pages, precision and recall are at least
trafilatura's (tests/transforms/extract/test_html_eval.py fails otherwise), at about 60-80% of its speed (the
heuristic runs as well). The hand-written extractor alone, the generic extractor until then, was well
behind on the first set (it keeps too much around the main text: P 0.79 vs 0.91).
"""
from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from html.entities import html5 as html5_entities
from typing import Any, Iterable

from lxml import etree
from lxml import html as lxml_html

from schemas.document import Document, document_id
from schemas.events import Drop, extract_drop
from schemas.raw import RawRecord
from transforms.extract.encoding import decode_page
from transforms.extract.errors import ExtractError
from transforms.extract.options import ExtractOptions

# ---------------------------------------------------------------------------------------------------
# CSS subset -> XPath

_SIMPLE = re.compile(
    r"""(?P<tag>[A-Za-z][A-Za-z0-9_-]*|\*)?(?P<rest>(?:\#[A-Za-z0-9_:-]+|\.[A-Za-z0-9_-]+|"""
    r"""\[[A-Za-z_:][A-Za-z0-9_:.-]*(?:[*^$~|]?=(?:"[^"]*"|'[^']*'|[^\]\s]+))?\])*)$""")
_PART = re.compile(r"""\#([A-Za-z0-9_:-]+)|\.([A-Za-z0-9_-]+)|\[([A-Za-z_:][A-Za-z0-9_:.-]*)(?:([*^$~|]?=)("[^"]*"|'[^']*'|[^\]\s]+))?\]""")


def _xpath_literal(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return "concat(" + ", \"'\", ".join(f"'{p}'" for p in value.split("'")) + ")"


def _compound_to_xpath(compound: str) -> str:
    match = _SIMPLE.match(compound)
    if not match or not compound:
        raise ValueError(f"unsupported CSS selector part {compound!r}")
    tag = match.group("tag") or "*"
    conditions = []
    for id_, cls, attr, op, value in _PART.findall(match.group("rest") or ""):
        if id_:
            conditions.append(f"@id={_xpath_literal(id_)}")
        elif cls:
            conditions.append(f"contains(concat(' ', normalize-space(@class), ' '), {_xpath_literal(' ' + cls + ' ')})")
        elif attr:
            if not op:
                conditions.append(f"@{attr}")
                continue
            value = value[1:-1] if value[:1] in "\"'" else value
            lit = _xpath_literal(value)
            conditions.append({
                "=": f"@{attr}={lit}",
                "*=": f"contains(@{attr}, {lit})",
                "^=": f"starts-with(@{attr}, {lit})",
                "$=": f"substring(@{attr}, string-length(@{attr}) - string-length({lit}) + 1)={lit}",
                "~=": f"contains(concat(' ', normalize-space(@{attr}), ' '), {_xpath_literal(' ' + value + ' ')})",
                "|=": f"(@{attr}={lit} or starts-with(@{attr}, {_xpath_literal(value + '-')}))",
            }[op])
    return tag + "".join(f"[{c}]" for c in conditions)


@lru_cache(maxsize=256)
def css_to_xpath(selector: str) -> str:
    """Compile a CSS selector of the supported subset to an XPath expression (raises ValueError)."""
    alternatives = []
    for group in selector.split(","):
        tokens = re.findall(r"""(?:[^\s>"']|"[^"]*"|'[^']*')+|>""", group.strip())
        if not tokens:
            raise ValueError(f"empty CSS selector in {selector!r}")
        path, axis = "descendant-or-self::", ""
        for token in tokens:
            if token == ">":
                if axis == "/" or path == "descendant-or-self::":
                    raise ValueError(f"misplaced '>' in CSS selector {selector!r}")
                axis = "/"
                continue
            if path != "descendant-or-self::":
                path += axis or "//"
            path += _compound_to_xpath(token)
            axis = ""
        alternatives.append(path)
    return " | ".join(alternatives)


def content_selector_problem(content: dict[str, Any]) -> str | None:
    """'content.KEY: why' for the first of a spec's content selectors outside the supported subset (every
    page of the source would be quarantined for it), None when all compile."""
    selectors = [("title_selector", content.get("title_selector")), ("body_selector", content.get("body_selector"))]
    selectors += [("remove_selectors", s) for s in content.get("remove_selectors") or []]
    for key, selector in selectors:
        if selector:
            try:
                css_to_xpath(selector)
            except ValueError as exc:
                return f"content.{key}: {exc} (the extractor supports tags, #id, .class, [attr], [attr=v] and its ^= $= *= ~= |=, descendants and >)"
    return None


def select(root, selector: str) -> list:
    try:
        return root.xpath(css_to_xpath(selector))
    except (ValueError, etree.XPathError) as exc:
        raise ExtractError(f"bad content selector {selector!r}: {exc}") from exc


# ---------------------------------------------------------------------------------------------------
# Boilerplate pruning

_ALWAYS_DROP = {"script", "style", "noscript", "template", "iframe", "svg", "canvas", "object", "embed",
                "head", "form", "button", "select", "input", "textarea", "map", "audio", "video", "link",
                "meta"}
_GENERIC_DROP = {"nav", "header", "footer", "aside", "menu"}
# class/id words of navigation, cookie banners, social widgets and the like (matched as whole words).
_BOILERPLATE_ATTR = re.compile(
    r"(?:^|[\s_-])(?:cookie|cookies|consent|gdpr|banner|nav|navbar|navigation|menu|breadcrumbs?|"
    r"breadbox|sidebar|side-?nav|skip(?:menu|nav|link)?|social|share|sharing|syndicate|msyndicate|"
    r"footer|header|masthead|branding|search|searchform|pageoptions(?:-horizontal|-inner2?)?|"
    r"print|subscribe|newsletter|advert(?:isement)?|ads?|promo|related|popup|modal|toolbar|"
    r"emergency-alert|noscript|plugin-legend|linkpolicy|prefoot|official-notice)(?:$|[\s_-])",
    re.IGNORECASE)
_NEVER_PRUNED = {"body", "html", "td", "th", "tr", "thead", "tbody", "tfoot", "caption", "h1", "h2", "h3",
                 "h4", "h5", "h6", "p", "li"}
_CONSENT_ATTR = re.compile(r"cookie|consent|gdpr", re.IGNORECASE)
_BLOCK_TAGS = {"p", "div", "section", "article", "main", "header", "footer", "aside", "blockquote", "pre",
               "address", "figure", "figcaption", "dl", "dt", "dd", "ul", "ol", "li", "table", "tr", "td",
               "th", "thead", "tbody", "tfoot", "caption", "fieldset", "h1", "h2", "h3", "h4", "h5", "h6",
               "hr", "center", "body", "html", "details", "summary", "nav", "menu", "dir", "frameset",
               "legend", "option"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_WS = re.compile(r"[ \t\r\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")


def _attr_words(el) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''} {el.get('role') or ''}"


def _text_len(el) -> int:
    return len(_WS.sub(" ", "".join(el.itertext())).strip())


def _remove(el) -> None:
    """Remove an element but keep its tail text attached to the previous node."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    if tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail
    parent.remove(el)


def _walk(root):
    """Elements in document order, parents first; a subtree removed meanwhile is not entered (the old
    `list(root.iter())` measured and pruned inside removed subtrees too: same result, much slower)."""
    stack = [root]
    while stack:
        el = stack.pop()
        yield el
        if el.getparent() is not None or el is root:
            stack.extend(reversed(el))


def _nonspace(text: str | None) -> int:
    return len("".join(text.split())) if text else 0


def _subtree_sizes(root) -> tuple[dict, dict]:
    """Per element, in one bottom-up pass: a lower bound of `_text_len` (its non-space characters) and
    the exact length of its link text (the `_text_len` of every `<a>` in it). The prunes below use them to skip the exact, subtree-long measurement
    wherever the bound already decides; an element's subtree is still intact when it is visited (parents
    come first), so the numbers hold."""
    lower: dict = {}
    links: dict = {}
    for el in reversed(list(root.iter())):  # children before parents
        n = _nonspace(el.text) if isinstance(el.tag, str) else 0
        k = 0
        for child in el:
            n += lower[child] + _nonspace(child.tail)
            k += links[child]
        if el.tag == "a":
            k += _text_len(el)
        lower[el], links[el] = n, k
    return lower, links


def _prune(root, generic: bool) -> None:
    lower, _ = _subtree_sizes(root) if generic else ({}, {})
    for el in _walk(root):
        if not isinstance(el.tag, str):
            if el.getparent() is not None:
                _remove(el)  # comments, processing instructions
            continue
        tag = el.tag.lower()
        if tag in _ALWAYS_DROP:
            _remove(el)
            continue
        if el.get("hidden") is not None or el.get("aria-hidden") == "true" or \
                re.search(r"display\s*:\s*none", el.get("style") or "", re.IGNORECASE):
            _remove(el)
            continue
        attrs = _attr_words(el)
        if _CONSENT_ATTR.search(attrs) and tag not in ("body", "html"):
            _remove(el)
            continue
        if generic and tag not in _NEVER_PRUNED:
            if tag in _GENERIC_DROP or el.get("role") in ("navigation", "banner", "contentinfo", "search"):
                _remove(el)
            elif _BOILERPLATE_ATTR.search(attrs) and lower.get(el, 0) < 2000 and _text_len(el) < 2000:
                _remove(el)


_LINK_BLOCKS = frozenset({"ul", "ol", "div", "td", "table", "p", "section", "dl"})


def _prune_link_dense(root) -> None:
    """Blocks that are mostly link text (menus, link lists, "related" boxes) are navigation."""
    lower, link_len = _subtree_sizes(root)
    for el in _walk(root):
        if not isinstance(el.tag, str) or el.tag not in _LINK_BLOCKS or el.getparent() is None:
            continue
        links = link_len[el]
        if links <= 0.6 * lower[el]:  # links / total <= 0.6 already: not navigation
            continue
        total = _text_len(el)
        if total == 0:
            continue
        words = total // 6 + 1
        if links / total > 0.6 and (total < 1500 or links / total > 0.85) and words < 400:
            _remove(el)


# ---------------------------------------------------------------------------------------------------
# Rendering

_BR = "\x1e"  # a <br> inside inline text; source newlines are mere whitespace in HTML


def _collapse(text: str) -> str:
    lines = [_WS.sub(" ", line).strip() for line in text.replace("\n", " ").split(_BR)]
    return "\n".join(line for line in lines if line)


def _is_layout_table(table) -> bool:
    """Old sites lay pages out with tables: such a table holds blocks, not data."""
    for el in table.iterdescendants():
        if isinstance(el.tag, str) and el.tag in ("table", "p", "div", "ul", "ol", "h1", "h2", "h3",
                                                   "h4", "h5", "h6", "blockquote", "pre"):
            return True
    return False


class _Renderer:
    def __init__(self, tables: str, layout_tables: bool = True):
        self.tables = tables
        self.layout_tables = layout_tables  # False: every table is data (trafilatura already chose)
        self.blocks: list[tuple[str, str]] = []   # (kind, text)
        self.inline: list[str] = []
        self.prefix: str | None = None
        self.list_depth = 0

    def flush(self, kind: str = "p") -> None:
        text = _collapse("".join(self.inline))
        self.inline = []
        if not text:
            return
        if self.prefix is not None:
            text, kind, self.prefix = self.prefix + text, "li", None
        self.blocks.append((kind, text))

    def render(self, el) -> None:
        if not isinstance(el.tag, str):
            return
        tag = el.tag.lower()
        if tag in _ALWAYS_DROP:
            return
        if tag in _HEADINGS:
            self.flush()
            text = _collapse(" ".join(el.itertext()))
            if text:
                self.blocks.append(("h", "#" * _HEADINGS[tag] + " " + text))
            return
        if tag == "br":
            self.inline.append(_BR)
            return
        if tag == "pre":
            self.flush()
            text = "".join(el.itertext()).strip("\n")
            if text.strip():
                self.blocks.append(("pre", text))
            return
        if tag == "table" and not (self.layout_tables and _is_layout_table(el)):
            self.flush()
            self._table(el)
            return
        if tag == "li":
            self.flush()
            self.prefix = "  " * max(self.list_depth - 1, 0) + "- "
        if tag in ("ul", "ol", "dir", "menu"):
            self.flush()
            self.list_depth += 1
        block = tag in _BLOCK_TAGS
        if block and tag != "li":
            self.flush()
        if el.text:
            self.inline.append(el.text)
        for child in el:
            self.render(child)
            if child.tail:
                self.inline.append(child.tail)
        if block:
            self.flush()
        if tag in ("ul", "ol", "dir", "menu"):
            self.list_depth -= 1
        if tag == "li":
            self.prefix = None

    def _table(self, table) -> None:
        if self.tables == "drop":
            return
        captions = [_collapse(" ".join(c.itertext())) for c in table.iter("caption")]
        if self.tables == "caption":
            for caption in captions:
                if caption:
                    self.blocks.append(("p", caption))
            return
        lines = [c for c in captions if c]
        for row in table.iter("tr"):
            cells = [_collapse(" ".join(cell.itertext()).replace("\n", " "))
                     for cell in row if isinstance(cell.tag, str) and cell.tag.lower() in ("td", "th")]
            cells = [c for c in cells if c]
            if cells:
                lines.append(" | ".join(cells))
        if lines:
            self.blocks.append(("table", "\n".join(lines)))

    def text(self) -> str:
        self.flush()
        out: list[str] = []
        prev_kind = ""
        for kind, text in self.blocks:
            if out:
                out.append("\n" if kind == "li" and prev_kind == "li" else "\n\n")
            out.append(text)
            prev_kind = kind
        return "".join(out)


def render_elements(elements: Iterable, tables: str = "linearize", layout_tables: bool = True) -> str:
    renderer = _Renderer(tables, layout_tables)
    for el in elements:
        renderer.flush()
        renderer.render(el)
    return renderer.text()


def html_fragment_to_text(fragment: str, tables: str = "linearize") -> str:
    """Render an HTML fragment (no pruning of boilerplate: the caller chose it)."""
    if not fragment.strip():
        return ""
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    _prune(root, generic=False)
    return render_elements([root], tables)


# ---------------------------------------------------------------------------------------------------
# Pages

_DOCTYPE = re.compile(r"<!DOCTYPE\b", re.IGNORECASE)
# What an internal subset may hold: markup declarations (quoted strings may contain '>'), comments,
# processing instructions, parameter-entity references, whitespace.
_SUBSET_ITEM = re.compile(r"""\s+|<!--.*?-->|<\?.*?\?>|%[^\s;<>]+;|<![A-Za-z]+(?:[^"'>]|"[^"]*"|'[^']*')*>""",
                          re.DOTALL)
_SUBSET_CLOSE = re.compile(r"\s*\]?\s*>?")
_ENTITY_DECL = re.compile(r"<!ENTITY\s+(?:%\s+)?([^\s\"'<>%;]+)", re.IGNORECASE)


def strip_internal_subsets(text: str) -> str:
    """Remove DTD internal subsets (`<!DOCTYPE html [ <!ENTITY xxe SYSTEM "file:..."> ]>`) and every
    reference to an entity they declare. HTML has no DTDs: lxml's HTML parser would neither expand nor
    fetch them, but it leaves `]>` and `&xxe;` in the text. Nothing is expanded here either; references to
    names HTML itself defines (`&amp;`) are left to the parser."""
    if "<!" not in text:
        return text
    out: list[str] = []
    pos = 0
    declared: set[str] = set()
    for match in _DOCTYPE.finditer(text):
        if match.start() < pos:
            continue
        i, n, quote = match.end(), len(text), ""
        while i < n:  # the doctype's name and external id, up to '[' or '>'
            c = text[i]
            if quote:
                quote = "" if c == quote else quote
            elif c in "\"'":
                quote = c
            elif c in "[>":
                break
            i += 1
        if i >= n or text[i] != "[":
            continue
        head_end, i = i, i + 1
        while True:
            item = _SUBSET_ITEM.match(text, i)
            if not item or item.end() == i:
                break
            if item.group().startswith("<!"):
                declared.update(_ENTITY_DECL.findall(item.group()))
            i = item.end()
        close = _SUBSET_CLOSE.match(text, i)
        out.append(text[pos:head_end].rstrip() + ">")
        pos = close.end()
    if not out:
        return text
    out.append(text[pos:])
    text = "".join(out)
    unknown = sorted(name for name in declared if name + ";" not in html5_entities)
    if unknown:
        text = re.sub("&(?:" + "|".join(map(re.escape, unknown)) + ");", "", text)
    return text


def _parse(text: str):
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", text)  # lxml refuses str input with an encoding declaration
    text = strip_internal_subsets(text)
    try:
        root = lxml_html.document_fromstring(text)
    except (etree.ParserError, ValueError) as exc:
        raise ExtractError(f"unparseable HTML: {exc}") from exc
    return root


def _page_title(root, content: dict[str, Any], meta: dict[str, Any]) -> str:
    selector = content.get("title_selector")
    if selector:
        for el in select(root, selector):
            title = _collapse(" ".join(el.itertext()).replace("\n", " "))
            if title:
                return title
    for xpath in ("//meta[@property='og:title']/@content", "//meta[@name='citation_title']/@content",
                  "//meta[@name='DC.title']/@content"):
        found = root.xpath(xpath)
        if found and found[0].strip():
            return _collapse(found[0])
    found = root.xpath("//title")
    if found:
        title = _collapse(" ".join(found[0].itertext()))
        if title:
            return title
    for h1 in root.iter("h1"):
        title = _collapse(" ".join(h1.itertext()))
        if title:
            return title
    return str(meta.get("title") or "")


def _generic_main(root):
    """The generic fallback: a semantic or conventionally named container when it holds most of the
    page's remaining text (old sites close their divs so loosely that `#content-main` may hold only a
    footer), else the pruned body."""
    body = root.find("body")
    body = body if body is not None else root
    total = _text_len(body)
    for xpath in ("//main", "//*[@role='main']", "//article"):
        found = [el for el in root.xpath(xpath) if _text_len(el) > 200]
        if found and sum(_text_len(el) for el in found) >= 0.5 * total:
            return found
    for xpath in ("//*[@id='content-main']", "//*[@id='main-content']", "//*[@id='maincontent']",
                  "//*[@id='content']", "//*[@id='main']"):
        found = root.xpath(xpath)
        if found and _text_len(found[0]) >= 0.6 * total:
            return found[:1]
    return [body]


def _prepare_tables(root, tables: str) -> None:
    """`options.tables` applied to the page's data tables before main-content detection: dropped, or
    replaced by their caption (layout tables are left alone: they hold the page's blocks)."""
    if tables == "linearize":
        return
    for table in list(root.iter("table")):
        if table.getparent() is None or _is_layout_table(table):
            continue
        captions = [_collapse(" ".join(c.itertext())) for c in table.iter("caption")]
        captions = [c for c in captions if c]
        if tables == "caption" and captions:
            para = lxml_html.Element("p")
            para.text = " ".join(captions)
            para.tail = table.tail
            table.addprevious(para)
            table.getparent().remove(table)
        else:
            _remove(table)


def main_content_text(root, tables: str = "linearize") -> str:
    """The page's main content found by trafilatura (precision/recall measured in testkit/
    html_eval.py), rendered in the house format: its XML (head/list/item/table/row/cell) is mapped to HTML
    by trafilatura's own converter and then rendered like any other HTML. Returns "" when it finds nothing.
    trafilatura works on its own copy of the tree, so `root` stays usable for the fallback."""
    from trafilatura import bare_extraction
    from trafilatura.htmlprocessing import convert_to_html

    _prepare_tables(root, tables)
    # deduplicate=False: trafilatura's duplicate cache is process state and would make the output depend
    # on which documents a worker saw before.
    found = bare_extraction(root, output_format="xml", include_comments=False, include_tables=True,
                            include_images=False, include_links=False, include_formatting=False,
                            deduplicate=False, with_metadata=False)
    if found is None or found.body is None or not len(found.body):
        return ""
    html_tree = convert_to_html(found.body)
    return render_elements(html_tree.iter("body"), tables, layout_tables=False)


_WORD = re.compile(r"\w+")
# Thresholds of combine_main_content, chosen on the development half of the trafilatura evaluation set
# (testkit/html_eval.py: snippet_split) and then checked on the held-out half and the 120 pages.
_COVERED = 0.5          # a block is "in" the other text when this share of its word 3-grams is there
_NEW = 0.2              # ... and "not in" it at or below this share
_FILL_MIN_WORDS = 20    # a block trafilatura missed is added only when it is a real paragraph
_EDGE_MAX_WORDS = 30    # leading/trailing blocks only trafilatura kept are dropped when this short
_EDGE_AGREEMENT = 0.8   # ... and only when the two extractors agree on this share of the content
_FLAT_COVERED = 0.95    # one flat trafilatura block holding this share of the heuristic's text and more


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    if len(words) < 3:
        return {tuple(words)} if words else set()
    return set(zip(words, words[1:], words[2:]))


def _share(block: set, other: set) -> float:
    return len(block & other) / len(block) if block else 1.0


def combine_main_content(primary: str, heuristic: str) -> str:
    """trafilatura's main content (`primary`) corrected by the hand-written extractor's (`heuristic`),
    block by block (blocks are the rendered text's paragraphs, lists and tables):
    - a paragraph of 20+ words that only the heuristic kept, lying *between* blocks both kept, is
      inserted after the block it follows: trafilatura sometimes drops a div in mid-article;
    - short blocks at the start or end that only trafilatura kept (bylines, "related", copyright lines) are
      dropped, when the two otherwise agree on most of the content;
    - when trafilatura returns one flat block holding all the heuristic found (its baseline rescue on short
      pages: menus included, structure lost), the heuristic's text is used.
    Deterministic: only block order and set membership decide."""
    blocks = [b for b in primary.split("\n\n") if b.strip()]
    others = [b for b in heuristic.split("\n\n") if b.strip()]
    other_shingles = [_shingles(b) for b in others]
    if not blocks or not others:
        return primary
    block_shingles = [_shingles(b) for b in blocks]
    primary_all = set().union(*block_shingles)
    first_block: dict[tuple[str, ...], int] = {}  # shingle -> first block holding it
    for i, shingles in enumerate(block_shingles):
        for shingle in shingles:
            first_block.setdefault(shingle, i)
    heuristic_all = _shingles(heuristic)
    # 0. one flat block (trafilatura's last-resort baseline on short pages keeps menus and loses the
    # structure) holding all the heuristic found and more: the heuristic's structured text is the better
    # reading
    if len(blocks) == 1 and len(others) > 1 and len(primary_all) > len(heuristic_all) and \
            _share(heuristic_all, primary_all) >= _FLAT_COVERED:
        return heuristic
    # 1. fill gaps
    inserts: dict[int, list[str]] = {}
    anchor = None
    pending: list[str] = []
    for text, shingles in zip(others, other_shingles):
        share = _share(shingles, primary_all)
        if share >= _COVERED:
            hits = Counter(first_block[sh] for sh in shingles if sh in first_block)
            best = min(hits, key=lambda k: (-hits[k], k)) if hits else len(blocks) - 1
            if anchor is not None and pending:
                inserts.setdefault(anchor, []).extend(pending)
            anchor, pending = best, []
        elif share <= _NEW and anchor is not None and not text.startswith("#") and \
                len(_WORD.findall(text)) >= _FILL_MIN_WORDS:
            pending.append(text)
    # 2. trim the edges
    keep = [True] * len(blocks)
    if primary_all and _share(primary_all, heuristic_all) >= _EDGE_AGREEMENT:
        alone = [bool(sh) and _share(sh, heuristic_all) <= _NEW and len(_WORD.findall(b)) < _EDGE_MAX_WORDS
                 for b, sh in zip(blocks, block_shingles)]
        for order in (range(len(blocks)), range(len(blocks) - 1, -1, -1)):
            for i in order:
                if not alone[i]:
                    break
                keep[i] = False
    out: list[str] = []
    for i, text in enumerate(blocks):
        if keep[i]:
            out.append(text)
        out.extend(inserts.get(i, []))
    return "\n\n".join(out)


def heuristic_main_text(text: str, tables: str = "linearize") -> str:
    """The hand-written generic extractor on its own (measured against trafilatura in html_eval.py)."""
    root = _parse(text)
    _prune(root, generic=True)
    _prune_link_dense(root)
    return render_elements(_generic_main(root), tables)


def extract_html_text(text: str, content: dict[str, Any], tables: str = "linearize",
                      meta: dict[str, Any] | None = None) -> tuple[str, str, str]:
    """(title, body text, method) of one decoded HTML page; method is 'selector' (the source's selectors),
    'main-content' (trafilatura's main content, corrected by the heuristic: combine_main_content) or
    'heuristic' (the hand-written generic extractor alone, when trafilatura finds nothing)."""
    meta = meta or {}
    root = _parse(text)
    title = _page_title(root, content, meta)
    for selector in content.get("remove_selectors") or []:
        for el in select(root, selector):
            _remove(el)
    body_selector = content.get("body_selector")
    if body_selector:
        found = select(root, body_selector)
        # Drop matches nested in other matches: their text would be emitted twice.
        ids = {id(el) for el in found}
        found = [el for el in found if not any(id(a) in ids for a in el.iterancestors())]
        if found:
            for el in found:
                _prune(el, generic=False)
            body = render_elements(found, tables)
            if body.strip():
                return title, body, "selector"
    try:
        body = main_content_text(root, tables)  # trafilatura works on a copy: root is still whole
    except Exception:  # a library failure on one odd page: the heuristic below still reads it
        body = ""
    _prune(root, generic=True)
    _prune_link_dense(root)
    heuristic = render_elements(_generic_main(root), tables)
    if body.strip():
        combined = combine_main_content(body, heuristic)
        return title, combined, "heuristic" if combined is heuristic else "main-content"
    return title, heuristic, "heuristic"


# ---------------------------------------------------------------------------------------------------
# National Guideline Clearinghouse summaries

# Administrative fields that carry no clinical text.
NGC_SKIPPED_FIELDS = frozenset({
    "Bibliographic Source(s)", "Guideline Status", "Guideline Availability", "Availability of Companion Documents",
    "Patient Resources", "NGC Status", "Copyright Statement", "Disclaimer", "Financial Disclosures/Conflicts of Interest",
    "NGC Disclaimer",  # the same boilerplate in every summary
    "Guideline Developer(s)", "Source(s) of Funding", "Guideline Committee", "Composition of Group That Authored the Guideline",
    "Guideline Endorser(s)", "Adaptation", "Date Released", "Identifying Information and Availability",
    "Institute of Medicine (IOM) National Healthcare Quality Report Categories", "IOM Care Need", "IOM Domain",
    "Guideline Category", "Clinical Specialty", "Intended Users", "Number of Source Documents", "Date Accessed",
})


def is_ngc_summary(content: bytes) -> bool:
    head = content[:2048].lstrip()
    return head.startswith(b"<Version") or (b"<Version" in head[:200] and b"<Section" in content[:8192])


def extract_ngc_summary(content: bytes, tables: str = "linearize") -> tuple[str, str]:
    """(title, text) of an NGC summary: each field's escaped HTML decoded and rendered under `## name`."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=False)
    try:
        root = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise ExtractError(f"malformed NGC summary XML: {exc}") from exc
    title = ""
    parts: list[str] = []
    for field in root.iter("Field"):
        name = (field.get("Name") or "").strip()
        values = [v.get("Value") or "" for v in field.iter("FieldValue")]
        rendered = "\n\n".join(t for t in (html_fragment_to_text(v, tables) for v in values) if t)
        if name == "Guideline Title":
            title = _collapse(rendered.replace("\n", " "))
            continue
        if not rendered or name in NGC_SKIPPED_FIELDS:
            continue
        parts.append(f"## {name}\n\n{rendered}")
    body = "\n\n".join(parts)
    if title:
        body = f"# {title}\n\n{body}" if body else ""
    return title, body


# ---------------------------------------------------------------------------------------------------
# The pipeline entry point

def _content_rules(rules: dict[str, Any] | None) -> dict[str, Any]:
    rules = rules or {}
    content = rules.get("content")
    return content if isinstance(content, dict) else rules


def extract_html(raw: RawRecord, *, subset: str, options: ExtractOptions,
                 rules: dict[str, Any] | None = None) -> list[Document | Drop]:
    """One Document per page, or a Drop(stage='extract', reason='no_text') when nothing is left."""
    meta = raw.meta_dict()
    content = _content_rules(rules)
    if not raw.content.strip():
        raise ExtractError("empty HTML record")
    if is_ngc_summary(raw.content):
        title, body = extract_ngc_summary(raw.content, options.tables)
        method, decoding = "ngc-summary", {"encoding": "xml"}
    else:
        decoded = decode_page(raw.content, meta.get("charset"))
        decoding = decoded.meta()
        title, body, method = extract_html_text(decoded.text, content, options.tables, meta)
    doc_id = document_id(raw.source, raw.url)
    if not body.strip():
        return [extract_drop(raw, doc_id, subset, "no_text", detail=f"{method} extraction found no text")]
    meta.update({"extractor": method, **decoding})
    return [Document(id=doc_id, source=raw.source, subset=subset, title=title or str(meta.get("title") or ""),
                     text=body, url=raw.url, license=meta.get("license", raw.license),
                     meta=meta)]
