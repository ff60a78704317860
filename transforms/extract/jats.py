"""JATS / NLM XML (PMC Open Access, PLOS, SciELO) -> documents with structure tokens.

One document per `<article>` (also inside `<articles>` / `<pmc-articleset>` wrappers) and one per
`sub-article` of type translation, each with its own language. The text is:

    Title

    # Abstract
    ...
    # 1 Introduction
    ## 1.1 Sub-section
    paragraph with [BIB_REF] cited title, First Author [/BIB_REF] and [FIG_REF] Figure 1 [/FIG_REF]
    [FIG] Figure 1. caption [/FIG]
    [TABLE] Table 1. caption
    cell | cell [/TABLE]
    [FORMULA] E = m c^2 [/FORMULA]

Back matter (`<back>`: references, acknowledgements, notes, appendices), author notes, footnotes,
supplementary material and in-body sections that are back matter by type or title (funding,
competing interests, author contributions...) are removed. Works on NLM Journal Publishing DTD
2.x/3.0 and JATS 1.0-1.3 alike: they share the element names used here.
"""
from __future__ import annotations

import re
from typing import Any, Iterator

from lxml import etree

from schemas.document import Document, document_id
from schemas.events import Drop, extract_drop
from schemas.raw import RawRecord
from transforms.extract.errors import ExtractError
from transforms.extract.options import ExtractOptions
from transforms.extract.xmlsafe import entity_text, parse_xml

XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# Elements whose whole content is never text of the article.
_SKIP = frozenset({
    "back", "ref-list", "ack", "fn-group", "fn", "author-notes", "supplementary-material", "media",
    "graphic", "inline-graphic", "object-id", "table-wrap-foot", "attrib", "permissions", "notes",
    "glossary", "app-group", "floats-wrap", "alt-text", "long-desc", "counts", "custom-meta-group",
    "sub-article", "response", "processing-meta", "annotation", "annotation-xml", "target", "private-char",
    "x", "funding-group", "funding-statement",
})
_BLOCK_CONTAINERS = frozenset({"boxed-text", "disp-quote", "statement", "verse-group", "speech",
                               "body", "caption", "def-item", "def", "list-item", "alternatives", "fig-group",
                               "table-wrap-group", "sec-meta", "array"})
_FLOATS = frozenset({"fig", "fig-group", "table-wrap", "table-wrap-group", "boxed-text", "chem-struct-wrap"})
_ABSTRACT_TYPES_SKIPPED = frozenset({"graphical", "teaser", "toc", "web-summary", "precis"})
_BACK_SEC_TYPES = frozenset({
    "supplementary-material", "coi-statement", "conflict", "conflicts", "ack", "acknowledgment",
    "acknowledgement", "acknowledgments", "acknowledgements", "funding", "funding-information",
    "author-contributions", "contributions", "data-availability", "abbreviations", "display-objects",
    "reference", "references", "supplementary", "supplementary-data", "financial-disclosure",
})
_BACK_TITLES = re.compile(
    r"^\W*(?:[\dIVX]+[.)]?\s+)?(?:"
    r"acknowledge?ments?|acknowledge?ment and funding|conflicts? of interests?|competing (?:financial )?interests?|"
    r"declarations? of (?:competing )?interests?|disclosures?(?: statement)?|funding(?: sources?| information| statement)?|"
    r"financial (?:support|disclosures?)|sources? of funding|authors?'? ?contributions?|contributors|"
    r"supporting information|supplementary (?:materials?|information|data|files?)|additional files?|"
    r"abbreviations|references?|pre-publication history|bibliography|data availability(?: statement)?|availability of data.*|"
    r"agradecimentos?|agradecimientos?|conflitos? de interesses?|conflictos? de intereses?|"
    r"financiamento|financiación|financiamiento|contribuição dos autores|contribuciones de los autores|"
    r"refer[êe]ncias|referencias(?: bibliográficas)?|declaração de conflito de interesses?"
    r")\W*$", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r" +([,.;:)\]])")
_BRACKETED_BIB = re.compile(r"[\[(]\s*((?:\[BIB_REF\][^\[]*?\[/BIB_REF\][\s,;\u2013\u2014-]*)+)[\])]")
_EMPTY_BRACKETS = re.compile(r"[\[(][\s,;\u2013\u2014-]*[\])]")
_MO_SPACED = frozenset("=<>\u2264\u2265\u2260\u2248\u00b1+\u2212\u00d7\u00f7\u2192\u2190\u2194\u221d\u2261\u223c~|")


def _local(tag: Any) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1] if tag[:1] == "{" else tag.rsplit(":", 1)[-1]


def _collapse(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


# ---------------------------------------------------------------------------------------------- licences

_CC_URL = re.compile(r"creativecommons\.org/(licenses|publicdomain)/([a-z\-]+)/?(\d\.\d)?", re.IGNORECASE)


def normalize_license(href: str = "", text: str = "") -> str:
    """"CC BY 4.0", "CC BY-NC-ND 3.0", "CC0 1.0", "Public Domain" from a licence URL or statement."""
    match = _CC_URL.search(href or "") or _CC_URL.search(text or "")
    if match:
        kind, code, version = match.group(1).lower(), match.group(2).lower(), match.group(3)
        if kind == "publicdomain":
            return "CC0 1.0" if code == "zero" else "Public Domain"
        return f"CC {code.upper()}" + (f" {version}" if version else "")
    low = (text or "").lower()
    if "public domain" in low:
        return "Public Domain"
    if "creative commons" in low:
        parts = ["BY"]
        if "noncommercial" in low or "non-commercial" in low:
            parts.append("NC")
        if "noderiv" in low or "no deriv" in low or "no-deriv" in low:
            parts.append("ND")
        elif "sharealike" in low or "share alike" in low:
            parts.append("SA")
        return "CC " + "-".join(parts)
    return ""


# ---------------------------------------------------------------------------------------------- formulas

_TEX_SYMBOLS = {
    r"\alpha": "α", r"\beta": "β", r"\gamma": "γ", r"\delta": "δ", r"\epsilon": "ε", r"\varepsilon": "ε",
    r"\zeta": "ζ", r"\eta": "η", r"\theta": "θ", r"\kappa": "κ", r"\lambda": "λ", r"\mu": "μ", r"\nu": "ν",
    r"\xi": "ξ", r"\pi": "π", r"\rho": "ρ", r"\sigma": "σ", r"\tau": "τ", r"\phi": "φ", r"\varphi": "φ",
    r"\chi": "χ", r"\psi": "ψ", r"\omega": "ω", r"\Gamma": "Γ", r"\Delta": "Δ", r"\Theta": "Θ",
    r"\Lambda": "Λ", r"\Sigma": "Σ", r"\Phi": "Φ", r"\Psi": "Ψ", r"\Omega": "Ω", r"\times": "×",
    r"\pm": "±", r"\leq": "≤", r"\le": "≤", r"\geq": "≥", r"\ge": "≥", r"\neq": "≠", r"\approx": "≈",
    r"\cdot": "·", r"\infty": "∞", r"\sum": "Σ", r"\prod": "Π", r"\int": "∫", r"\partial": "∂",
    r"\rightarrow": "→", r"\to": "→", r"\leftarrow": "←", r"\sim": "~", r"\propto": "∝", r"\circ": "°",
    r"\%": "%", r"\,": " ", r"\;": " ", r"\!": "", r"\quad": " ", r"\qquad": " ", r"\left": "", r"\right": "",
    r"\ldots": "...", r"\cdots": "...", r"\in": "∈", r"\log": "log", r"\ln": "ln", r"\exp": "exp",
    r"\min": "min", r"\max": "max", r"\sqrt": "sqrt",
}
_TEX_DOC = re.compile(r"\\begin\{document\}(.*?)\\end\{document\}", re.DOTALL)
_TEX_FRAC = re.compile(r"\\[dt]?frac\{([^{}]*)\}\{([^{}]*)\}")
_TEX_WRAPPER = re.compile(r"\\(?:mathrm|text|mathit|mathbf|textrm|textit|mathsf|boldsymbol|mbox|rm|it|bf|operatorname)\s*\{([^{}]*)\}")
_TEX_ENV = re.compile(r"\\(?:begin|end)\{[a-zA-Z*]+\}")
_TEX_COMMAND = re.compile(r"\\[A-Za-z]+|\\.")


def tex_to_text(tex: str) -> str:
    """Readable text from a TeX formula (PMC wraps them in a minimal LaTeX document)."""
    match = _TEX_DOC.search(tex)
    body = match.group(1) if match else tex
    body = body.replace("$$", " ").replace("$", " ").replace(r"\[", " ").replace(r"\]", " ")
    body = _TEX_ENV.sub(" ", body)
    for _ in range(3):  # nested wrappers and fractions, innermost first
        body = _TEX_WRAPPER.sub(r"\1", body)
        body = _TEX_FRAC.sub(r"(\1)/(\2)", body)
    body = _TEX_COMMAND.sub(lambda m: _TEX_SYMBOLS.get(m.group(0), "" if len(m.group(0)) > 2 else m.group(0)[1:]), body)
    body = body.replace("{", "").replace("}", "").replace("&", " ").replace("\\\\", " ")
    return _collapse(body)


# A base with scripts: the mark written before each script, in child order (a_i, a^2, a_i^2; limits alike).
_SCRIPT_MARKS = {"msub": ("_",), "munder": ("_",), "msup": ("^",), "msubsup": ("_", "^"), "munderover": ("_", "^")}


def _group(text: str) -> str:
    return text if len(text) <= 1 or text.isalnum() or (text[0] == "(" and text[-1] == ")") else f"({text})"


def mathml_to_text(el: etree._Element) -> str:
    """Readable linear text of a MathML tree: fractions as (a)/(b), powers a^b, indices a_b."""
    return _collapse(_mathml(el))


def _mathml(el: Any) -> str:
    if isinstance(el, etree._Entity):
        return entity_text(el)
    name = _local(el.tag)
    if not name:
        return ""
    kids = [c for c in el if isinstance(c.tag, str) or isinstance(c, etree._Entity)]
    if name in ("mi", "mn", "mtext", "ms", "mo"):
        text = "".join(_mathml_text(el))
        if name == "mo" and text.strip() in _MO_SPACED:
            return f" {text.strip()} "
        if name == "mtext":
            return f" {text} " if text.strip() else " "
        return text
    if name in ("annotation", "annotation-xml", "mphantom", "none", "mprescripts"):
        return ""
    if name == "semantics":
        return _mathml(kids[0]) if kids else ""
    if name == "mspace":
        return " "
    parts = [_mathml(k) for k in kids]
    if name == "mfrac" and len(parts) == 2:
        return f"{_group(parts[0].strip())}/{_group(parts[1].strip())}"
    marks = _SCRIPT_MARKS.get(name)
    if marks is not None and len(parts) == len(marks) + 1:
        return parts[0] + "".join(mark + _group(p.strip()) for mark, p in zip(marks, parts[1:]))
    if name == "mover" and len(parts) == 2:
        accent = parts[1].strip()
        return parts[0] if len(accent) <= 1 and not accent.isalnum() else f"{parts[0]}^{_group(accent)}"
    if name == "msqrt":
        return f"sqrt({''.join(parts).strip()})"
    if name == "mroot" and len(parts) == 2:
        return f"root{_group(parts[1].strip())}({parts[0].strip()})"
    if name == "mfenced":
        opener, closer = el.get("open", "("), el.get("close", ")")
        separator = (el.get("separators", ",") or ",")[:1]
        return opener + f"{separator} ".join(p.strip() for p in parts) + closer
    if name == "mtable":
        return " ; ".join(p.strip() for p in parts if p.strip())
    if name in ("mtr", "mlabeledtr"):
        return " , ".join(p.strip() for p in parts if p.strip())
    return "".join(parts)


def _mathml_text(el: etree._Element) -> Iterator[str]:
    yield el.text or ""
    for child in el:
        if isinstance(child, etree._Entity):
            yield entity_text(child)
        elif isinstance(child.tag, str):
            yield from _mathml_text(child)
        yield child.tail or ""


# ---------------------------------------------------------------------------------------------- rendering

class _Renderer:
    """Renders one article (or translation sub-article) into text blocks."""

    def __init__(self, options: ExtractOptions, refs: dict[str, tuple[str, str]]):
        self.options = options
        self.refs = refs
        self.pending: list[str] = []  # floats met inside a paragraph, emitted after it
        self.counts = {"bib_refs": 0, "fig_refs": 0, "figures": 0, "tables": 0, "formulas": 0}

    # -- inline
    def inline(self, el: etree._Element) -> str:
        parts = [el.text or ""]
        for child in el:
            parts.append(self.inline_node(child))
            parts.append(child.tail or "")
        return "".join(parts)

    def inline_node(self, child: Any) -> str:
        if isinstance(child, etree._Entity):
            return entity_text(child)
        name = _local(child.tag)
        if not name or name in _SKIP or name in ("label",):
            return " " if name else ""
        if name == "xref":
            return self.xref(child)
        if name in ("inline-formula", "disp-formula", "tex-math", "math"):
            return f" {self.formula(child)} "
        if name in _FLOATS:
            self.pending.extend(self.float_block(child))
            return " "
        if name in ("list", "def-list"):
            self.pending.append(self.list_block(child))
            return " "
        if name in ("break", "hr"):
            return " "
        if name == "p":
            return " " + self.inline(child) + " "
        return self.inline(child)

    def xref(self, el: etree._Element) -> str:
        kind = el.get("ref-type", "")
        if kind == "bibr":
            if self.options.citations == "remove":
                return ""
            tagged = []
            for rid in (el.get("rid") or "").split():
                ref = self.refs.get(rid)
                if ref is None:
                    continue
                title, author = ref
                body = ", ".join(x for x in (title, author) if x)
                if body:
                    tagged.append(f"[BIB_REF] {body} [/BIB_REF]")
            self.counts["bib_refs"] += len(tagged)
            return " ".join(tagged)
        if kind in ("fig", "table"):
            label = _collapse(self.inline(el))
            if not label:
                return ""
            self.counts["fig_refs"] += 1
            return f"[FIG_REF] {label} [/FIG_REF]"
        if kind in ("fn", "table-fn", "aff", "corresp", "author-notes", "supplementary-material"):
            return ""
        return self.inline(el)

    def formula(self, el: etree._Element) -> str:
        text = self.formula_text(el)
        if not text:
            return ""
        self.counts["formulas"] += 1
        return f"[FORMULA] {text} [/FORMULA]"

    def formula_text(self, el: etree._Element) -> str:
        name = _local(el.tag)
        if name == "math":
            return mathml_to_text(el)
        if name == "tex-math":
            return tex_to_text("".join(el.itertext()))
        maths = [c for c in el.iter() if _local(c.tag) == "math"]
        if maths:
            return mathml_to_text(maths[0])
        texs = [c for c in el.iter() if _local(c.tag) == "tex-math"]
        if texs:
            return tex_to_text("".join(texs[0].itertext()))
        # Plain-text formulas (old NLM files): the element's own text, without its label.
        return self._text_without_label(el)

    def _text_without_label(self, el: etree._Element) -> str:
        parts = [el.text or ""]
        for child in el:
            if _local(child.tag) not in ("label", "graphic", "inline-graphic", "alternatives"):
                parts.append(self.inline_node(child))
            parts.append(child.tail or "")
        return _collapse("".join(parts))

    # -- blocks
    def paragraph(self, el: etree._Element) -> list[str]:
        saved, self.pending = self.pending, []
        text = tidy_inline(self.inline(el), self.options.citations)
        blocks = ([text] if text else []) + self.pending
        self.pending = saved
        return blocks

    def list_block(self, el: etree._Element) -> str:
        ordered = el.get("list-type", "") in ("order", "number", "alpha-lower", "alpha-upper",
                                              "roman-lower", "roman-upper")
        lines = []
        n = 0
        for item in el:
            name = _local(item.tag)
            if name == "title":
                title = _collapse(self.inline(item))
                if title:
                    lines.append(title)
                continue
            if name not in ("list-item", "def-item"):
                continue
            n += 1
            saved, self.pending = self.pending, []
            label = ""
            texts = []
            for child in item:
                cname = _local(child.tag)
                if cname == "label":
                    label = _collapse(self.inline(child))
                elif cname in ("list", "def-list"):
                    texts.append("\n" + "\n".join("  " + line for line in self.list_block(child).splitlines()))
                elif cname in ("term", "def", "p"):
                    texts.append(tidy_inline(self.inline(child), self.options.citations))
                elif isinstance(child.tag, str):
                    texts.append(tidy_inline(self.inline_node(child), self.options.citations))
            if not texts and item.text and item.text.strip():
                texts.append(_collapse(item.text))
            marker = label or (f"{n}." if ordered else "-")
            if marker in ("•", "·", "*", "–", "-", "—"):
                marker = "-"
            body = " ".join(t for t in texts if t.strip() and not t.startswith("\n"))
            nested = "".join(t for t in texts if t.startswith("\n"))
            lines.append(f"{marker} {body}".rstrip() + nested)
            lines.extend(self.pending)
            self.pending = saved
        return "\n".join(lines)

    def caption(self, el: etree._Element) -> str:
        label = ""
        caption = ""
        for child in el:
            name = _local(child.tag)
            if name == "label":
                label = _collapse(self.inline(child))
            elif name == "caption":
                pieces = []
                for part in child:
                    if _local(part.tag) in ("title", "p"):
                        piece = tidy_inline(self.inline(part), self.options.citations)
                        if piece:
                            pieces.append(piece)
                caption = " ".join(pieces)
        if label and caption:
            sep = " " if label.endswith((".", ":")) else ". "
            return label + sep + caption
        return label or caption

    def float_block(self, el: etree._Element) -> list[str]:
        name = _local(el.tag)
        if name in ("fig-group", "table-wrap-group"):
            out = []
            for child in el:
                if _local(child.tag) in ("fig", "table-wrap"):
                    out.extend(self.float_block(child))
            return out
        if name == "fig":
            text = self.caption(el)
            if not text:
                return []
            self.counts["figures"] += 1
            return [f"[FIG] {text} [/FIG]"]
        if name == "table-wrap":
            if self.options.tables == "drop":
                return []
            text = self.caption(el)
            rows = self.table_rows(el) if self.options.tables == "linearize" else []
            if not text and not rows:
                return []
            self.counts["tables"] += 1
            return ["[TABLE] " + "\n".join(x for x in [text] + rows if x) + " [/TABLE]"]
        if name == "boxed-text":
            return self.blocks(el, 2)
        return [tidy_inline(self.inline(el), self.options.citations)]

    def table_rows(self, el: etree._Element) -> list[str]:
        rows = []
        for tr in el.iter("tr", "{*}tr"):
            cells = [_collapse(self.inline(cell)) for cell in tr if _local(cell.tag) in ("td", "th")]
            if any(cells):
                rows.append(" | ".join(cells))
        return rows

    def section(self, el: etree._Element, depth: int) -> list[str]:
        label = title = ""
        for child in el:
            name = _local(child.tag)
            if name == "label":
                label = _collapse(self.inline(child))
            elif name == "title":
                title = tidy_inline(self.inline(child), "remove")
        heading = " ".join(x for x in (label, title) if x)
        body = self.blocks(el, depth)
        if not body:
            return []
        return ([f"{'#' * min(depth, 6)} {heading}"] if heading else []) + body

    def blocks(self, container: etree._Element, depth: int) -> list[str]:
        out: list[str] = []
        for child in container:
            name = _local(child.tag)
            if not name or name in _SKIP or name in ("title", "label", "sec-meta"):
                continue
            if name == "sec":
                if not is_back_matter_section(child):
                    out.extend(self.section(child, depth + 1))
            elif name == "p":
                out.extend(self.paragraph(child))
            elif name in ("list", "def-list"):
                text = self.list_block(child)
                if text:
                    out.append(text)
            elif name in _FLOATS:
                out.extend(x for x in self.float_block(child) if x)
            elif name in ("disp-formula", "disp-formula-group"):
                formula = self.formula(child) if name == "disp-formula" else " ".join(
                    self.formula(f) for f in child if _local(f.tag) == "disp-formula")
                if formula.strip():
                    out.append(formula)
            elif name in ("preformat", "code"):
                text = "".join(child.itertext()).strip()
                if text:
                    out.append(text)
            elif name in _BLOCK_CONTAINERS:
                out.extend(self.blocks(child, depth))
            else:
                out.extend(self.paragraph(child))
        return out


def tidy_inline(text: str, citations: str) -> str:
    """Collapse whitespace; fold brackets around citation tokens; remove brackets citations left empty."""
    text = _collapse(text)
    if "[BIB_REF]" in text:
        text = _BRACKETED_BIB.sub(lambda m: m.group(1).strip(" ,;"), text)
    text = _EMPTY_BRACKETS.sub("", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    return _collapse(text)


def is_back_matter_section(sec: etree._Element) -> bool:
    sec_type = (sec.get("sec-type") or "").lower()
    if sec_type in _BACK_SEC_TYPES or sec_type.startswith(("supplementary", "coi", "ack", "funding")):
        return True
    for child in sec:
        if _local(child.tag) == "title":
            title = _collapse("".join(t for t in child.itertext() if isinstance(t, str)))
            return bool(_BACK_TITLES.match(title))
    return False


# ---------------------------------------------------------------------------------------------- metadata

def _first(el: etree._Element | None, path: str) -> etree._Element | None:
    if el is None:
        return None
    found = el.find(path)
    return found


def _text(el: etree._Element | None) -> str:
    if el is None:
        return ""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child, etree._Entity):
            parts.append(entity_text(child))
        elif _local(child.tag) not in ("xref", "fn") and isinstance(child.tag, str):
            parts.append(_text(child))
        parts.append(child.tail or "")
    return _collapse("".join(parts))


def reference_table(article: etree._Element) -> dict[str, tuple[str, str]]:
    """ref id -> (cited title, first author) for every reference of the article."""
    refs: dict[str, tuple[str, str]] = {}
    for ref in article.iter("ref"):
        ref_id = ref.get("id")
        if not ref_id:
            continue
        citation = None
        for name in ("element-citation", "mixed-citation", "citation", "nlm-citation"):
            citation = ref.find(f".//{name}")
            if citation is not None:
                break
        if citation is None:
            citation = ref
        title = ""
        for name in ("article-title", "chapter-title", "data-title", "part-title", "source", "comment"):
            node = citation.find(f".//{name}")
            if node is not None and _text(node):
                title = _text(node)
                break
        if not title:
            title = _text(citation)[:200]
        author = ""
        person = citation.find(".//person-group")
        scope = person if person is not None else citation
        for node in scope.iter("name", "string-name", "collab"):
            if _local(node.tag) == "collab":
                author = _text(node)
            else:
                surname, given = _text(node.find("surname")), _text(node.find("given-names"))
                author = " ".join(x for x in (given, surname) if x) or _text(node)
            break
        clean = lambda s: _collapse(s.replace("[", "(").replace("]", ")")).rstrip(".")  # noqa: E731
        refs[ref_id] = (clean(title), clean(author))
    return refs


def _article_ids(meta: etree._Element | None) -> dict[str, str]:
    ids: dict[str, str] = {}
    if meta is None:
        return ids
    for node in meta.findall("article-id"):
        kind = (node.get("pub-id-type") or "").lower()
        value = _collapse(node.text or "")
        if not value:
            continue
        if kind in ("pmc", "pmcid") and "pmcid" not in ids:
            ids["pmcid"] = value if value.upper().startswith("PMC") else f"PMC{value}"
        elif kind == "pmid" and "pmid" not in ids:
            ids["pmid"] = value
        elif kind == "doi" and "doi" not in ids:
            ids["doi"] = value
    return ids


def _license(meta: etree._Element | None) -> tuple[str, str]:
    """(normalized licence, licence URL) from <permissions>."""
    if meta is None:
        return "", ""
    for lic in meta.iter("license"):
        href = lic.get(XLINK_HREF) or lic.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}resource") or ""
        for node in lic.iter():
            if _local(node.tag) == "license_ref" and node.text:
                href = href or node.text.strip()
            elif _local(node.tag) == "ext-link" and node.get(XLINK_HREF) and not href:
                if "creativecommons" in node.get(XLINK_HREF, ""):
                    href = node.get(XLINK_HREF)
        text = _collapse(" ".join(lic.itertext()))
        name = normalize_license(href, text)
        if name or href:
            return name or href, href
    return "", ""


def _lang(el: etree._Element, default: str) -> str:
    lang = (el.get(XML_LANG) or "").strip().lower()
    return lang.split("-")[0] if lang else default


def _year(meta: etree._Element | None) -> int | None:
    if meta is None:
        return None
    years = []
    for date in meta.findall("pub-date"):
        year = date.findtext("year")
        if year and year.strip().isdigit():
            years.append(int(year.strip()))
    return min(years) if years else None


def _journal(front: etree._Element | None) -> str:
    if front is None:
        return ""
    title = front.find("journal-meta/journal-title-group/journal-title")
    if title is None:
        title = front.find("journal-meta/journal-title")
    if title is not None and _text(title):
        return _text(title)
    for node in front.findall("journal-meta/journal-id"):
        if node.get("journal-id-type") == "nlm-ta" and node.text:
            return node.text.strip()
    return ""


def _title(meta: etree._Element | None) -> str:
    return _text(meta.find("title-group/article-title")) if meta is not None else ""


def _abstract_blocks(renderer: _Renderer, meta: etree._Element | None) -> list[str]:
    if meta is None:
        return []
    out: list[str] = []
    for abstract in meta.findall("abstract"):
        kind = (abstract.get("abstract-type") or "").lower()
        if kind in _ABSTRACT_TYPES_SKIPPED:
            continue
        title = _text(abstract.find("title"))
        body = renderer.blocks(abstract, 1)
        if body:
            out.append(f"# {title or 'Abstract'}")
            out.extend(body)
    return out


def _keywords(meta: etree._Element | None) -> list[str]:
    if meta is None:
        return []
    words = []
    for group in meta.findall("kwd-group"):
        lang = group.get(XML_LANG)
        if lang and not lang.lower().startswith("en"):
            continue
        words.extend(_text(k) for k in group.findall("kwd"))
    return [w for w in words if w]


# ---------------------------------------------------------------------------------------------- documents

def iter_articles(root: etree._Element) -> list[etree._Element]:
    """Top-level <article> elements: the root itself or the children of a wrapper element."""
    if _local(root.tag) == "article":
        return [root]
    return [el for el in root.iter() if _local(el.tag) == "article"
            and not any(_local(a.tag) == "article" for a in el.iterancestors())]


def extract_jats(raw: RawRecord, *, subset: str, options: ExtractOptions) -> list[Document | Drop]:
    """Documents of a JATS/NLM file (gzip accepted); raises ExtractError for unusable XML."""
    root = parse_xml(raw.content, options.max_decompressed_bytes)
    articles = iter_articles(root)
    if not articles:
        raise ExtractError(f"no <article> element in JATS file (root element <{_local(root.tag)}>)")
    raw_meta = raw.meta_dict()
    out: list[Document | Drop] = []
    for n, article in enumerate(articles):
        out.extend(_article_documents(raw, raw_meta, article, n, len(articles), subset, options))
    return out


def _article_documents(raw: RawRecord, raw_meta: dict[str, Any], article: etree._Element, n: int,
                       total: int, subset: str, options: ExtractOptions) -> list[Document | Drop]:
    front = article.find("front")
    meta = front.find("article-meta") if front is not None else None
    ids = _article_ids(meta)
    if total == 1:
        for key in ("pmcid", "pmid", "doi"):
            if raw_meta.get(key) and key not in ids:
                ids[key] = str(raw_meta[key])
    if ids.get("pmcid"):
        locator = ids["pmcid"]
    elif ids.get("doi"):
        locator = ids["doi"].lower()
    else:
        locator = raw.url if total == 1 else f"{raw.url}#article{n}"
    lang = _lang(article, "en")
    license_name, license_url = _license(meta)
    license_name = license_name or raw_meta.get("license") or raw.license
    refs = reference_table(article)
    base_meta: dict[str, Any] = {k: v for k, v in raw_meta.items()}
    base_meta.update(ids)
    base_meta.update({
        "format": "jats",
        "article_type": article.get("article-type", ""),
        "publication_types": [article.get("article-type")] if article.get("article-type") else [],
        "journal": _journal(front),
        "year": _year(meta),
        "language": lang,
        "license": license_name,
        "keywords": _keywords(meta),
    })
    if license_url:
        base_meta["license_url"] = license_url
    if article.get("dtd-version"):
        base_meta["dtd_version"] = article.get("dtd-version")

    docs: list[Document | Drop] = []
    main_id = document_id(raw.source, locator)
    renderer = _Renderer(options, refs)
    title = _title(meta)
    blocks = _abstract_blocks(renderer, meta)
    body = article.find("body")
    if body is not None:
        blocks.extend(renderer.blocks(body, 0))
    floats = article.find("floats-group")
    if floats is not None:
        blocks.extend(renderer.blocks(floats, 0))
    docs.append(_make(raw, subset, main_id, title, blocks, lang, license_name,
                      dict(base_meta, has_body=body is not None, **renderer.counts)))

    for sub in article.findall("sub-article"):
        if (sub.get("article-type") or "").lower() != "translation":
            continue
        sub_lang = _lang(sub, lang)
        stub = sub.find("front-stub")
        if stub is None:
            sub_front = sub.find("front")
            stub = sub_front.find("article-meta") if sub_front is not None else None
        sub_renderer = _Renderer(options, refs)
        sub_blocks = _abstract_blocks(sub_renderer, stub)
        sub_body = sub.find("body")
        if sub_body is not None:
            sub_blocks.extend(sub_renderer.blocks(sub_body, 0))
        sub_id = document_id(raw.source, f"{locator}#{sub.get('id') or sub_lang}")
        sub_meta = dict(base_meta, language=sub_lang, translation_of=main_id, sub_article_id=sub.get("id", ""),
                        has_body=sub_body is not None, **sub_renderer.counts)
        docs.append(_make(raw, subset, sub_id, _title(stub) or title, sub_blocks, sub_lang, license_name, sub_meta))
    return docs


def _make(raw: RawRecord, subset: str, doc_id: str, title: str, blocks: list[str], lang: str,
          license_name: str, meta: dict[str, Any]) -> Document | Drop:
    blocks = [b for b in blocks if b and b.strip()]
    has_text = any(not b.startswith("#") for b in blocks)
    if not has_text:
        return extract_drop(raw, doc_id, subset, "no_text", chars=len(title), detail=raw.url)
    text = "\n\n".join(([title] if title else []) + blocks)
    return Document(id=doc_id, source=raw.source, subset=subset, title=title, text=text, url=raw.url,
                    license=license_name or "unknown", lang=lang,
                    meta=meta)
