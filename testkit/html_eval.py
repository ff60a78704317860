"""Evaluation of generic (no-selector) HTML main-content extractors on the real guideline pages.

Ground truth per page: the text of the page's known main-content element, chosen by hand per site
template (selectors below, found by inspecting the HTML), with the chrome that sits *inside* that element
(accessibility notices, page-option bars, share rows, nav) removed. Scores are bag-of-words precision and
recall of an extractor's output against that reference (lower-cased `\\w+` tokens, counts clipped), so
markup markers (`#`, `- `, `|`) and line breaks do not matter, only which words were kept.

Used by tests/transforms/extract/test_html_eval.py and benchmarks/bench_guidelines.py; it only READS the realdata
folder (some of those pages are not ours to copy).
"""
from __future__ import annotations

import json
import re
import statistics
import time
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from lxml import html as lxml_html

from schemas.raw import RawRecord
from transforms.extract.encoding import decode_bytes
from transforms.extract.html import css_to_xpath, extract_html
from transforms.extract.options import ExtractOptions

CDC_ZIPS = ("mmwr_art_es_html_json.zip", "mmwr_toc_en_html_json.zip", "pcd_toc_en_html_json.zip")
# NICE/WHO pages with real main content (the other two mock pages hold a bare title or one link).
MOCK_PAGES = {
    "nice_base_tests_mock_sites_nice_1.html": (".media-body", [".result-footer"]),
    "nice_wsf-scraper-web_tests_mock_sites_nice_2.html": ("#global-breadcrumb h1, .section-summary", []),
    "who_base_tests_mock_sites_who_2.html": ("h2.page-header, .ds-table-responsive", []),
    "who_wsf-scraper-web_tests_mock_sites_who_2.html": ("h2.page-header, .ds-table-responsive", []),
}
# Chrome found inside the CDC content containers.
CDC_INNER_CHROME = ["#archivedbox", ".pageOptions-horizontal", "#linkPolicy", ".share-row", "nav",
                    ".breadcrumb", ".cdc-page-share", "#socialMediaShareContainer",
                    ".tp-on-this-page", ".tp-related-pages", ".title-bar"]
_REF_DROP = {"script", "style", "noscript", "template", "head", "form", "button", "select", "svg"}
_BLOCKS = {"p", "div", "section", "article", "main", "header", "footer", "aside", "blockquote", "pre", "li",
           "ul", "ol", "dl", "dt", "dd", "table", "tr", "td", "th", "caption", "h1", "h2", "h3", "h4", "h5",
           "h6", "br", "hr", "figure", "figcaption", "address", "center"}
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class EvalPage:
    group: str        # which page set
    url: str
    content: bytes    # the raw page, as a scraper stores it
    reference: str    # main-content text (ground truth)


def _xpath(root, selector: str) -> list:
    return root.xpath(css_to_xpath(selector))


def _outermost(elements: list) -> list:
    ids = {id(el) for el in elements}
    return [el for el in elements if not any(id(a) in ids for a in el.iterancestors())]


def _element_text(el, out: list[str]) -> None:
    if not isinstance(el.tag, str) or el.tag.lower() in _REF_DROP:
        if el.tail:
            out.append(el.tail)
        return
    block = el.tag.lower() in _BLOCKS
    if block:
        out.append("\n")
    if el.text:
        out.append(el.text)
    for child in el:
        _element_text(child, out)
    if block:
        out.append("\n")
    if el.tail:
        out.append(el.tail)


def reference_from(root, body_selector: str, remove: list[str]) -> str:
    for selector in remove:
        for el in _xpath(root, selector):
            if el.getparent() is not None:
                tail, parent = el.tail, el.getparent()
                el.tail = None
                parent.remove(el)
                if tail:  # keep the text that followed the removed element
                    parent.text = (parent.text or "") + tail
    out: list[str] = []
    for el in _outermost(_xpath(root, body_selector)):
        saved_tail, el.tail = el.tail, None
        _element_text(el, out)
        el.tail = saved_tail
    return re.sub(r"[ \t\u00a0]+", " ", "".join(out)).strip()


def cdc_main_selector(root) -> str:
    """The CDC site templates seen in the harvest, newest first."""
    if _xpath(root, "main"):
        return "main .syndicate" if _xpath(root, "main .syndicate") else "main"
    if _xpath(root, "#content-main"):
        return "#content-main .syndicate" if _xpath(root, "#content-main .syndicate") else "#content-main"
    if _xpath(root, "div.story"):
        return "div.story, div.group"  # pre-2010 MMWR article pages: one table cell of story divs
    # pre-2010 PCD tables of contents: a two-cell layout table, the right cell holds the issue
    return "body > table > tr > td.__widest__"


def cdc_reference(html_text: str) -> str:
    root = lxml_html.document_fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", html_text))
    selector = cdc_main_selector(root)
    if selector.endswith(".__widest__"):
        cells = root.xpath("/html/body/table/tr/td | /html/body/table/tbody/tr/td")
        if not cells:
            return ""
        widest = max(cells, key=lambda c: len("".join(c.itertext())))
        widest.set("class", (widest.get("class") or "") + " eval-main")
        selector = "td.eval-main"
    return reference_from(root, selector, CDC_INNER_CHROME)


def load_pages(realdata: Path) -> list[EvalPage]:
    """All evaluation pages found under realdata/3-guidelines (missing files are simply absent)."""
    folder = realdata / "3-guidelines"
    pages: list[EvalPage] = []
    for name in CDC_ZIPS:
        path = folder / "cdc_harvest" / name
        if not path.is_file():
            continue
        with zipfile.ZipFile(path) as archive:
            harvest = json.loads(archive.read(archive.namelist()[0]))
        group = name.replace("_html_json.zip", "")
        for url, html_text in sorted(harvest.items()):
            reference = cdc_reference(html_text)
            if len(reference.split()) >= 50:  # shell pages whose article is not in the HTML carry no signal
                pages.append(EvalPage(group, url, html_text.encode("utf-8"), reference))
    for name, (selector, remove) in MOCK_PAGES.items():
        path = folder / "reach_mock_sites" / name
        if not path.is_file():
            continue
        content = path.read_bytes()
        text, _ = decode_bytes(content)
        root = lxml_html.document_fromstring(text)
        group = "nice_mock" if name.startswith("nice") else "who_mock"
        pages.append(EvalPage(group, name, content, reference_from(root, selector, remove)))
    return pages


# ---------------------------------------------------------------------------------------------------
# Extractors (same input bytes; both decode with the pipeline's decode_bytes)

_OPTIONS = ExtractOptions()


def ours_text(content: bytes, url: str = "https://example.org/") -> str:
    """transforms/extract/html.py as the pipeline runs it on a page without selectors."""
    raw = RawRecord.make(source="eval", url=url, fetched_at="2024-01-01T00:00:00Z", content_type="html",
                         content=content)
    out = extract_html(raw, subset="guidelines", options=_OPTIONS, rules={})
    return getattr(out[0], "text", "")


def heuristic_text(content: bytes, url: str = "https://example.org/") -> str:
    """The hand-written generic extractor alone (html.py's fallback when trafilatura finds nothing)."""
    from transforms.extract.html import heuristic_main_text

    text, _ = decode_bytes(content)
    return heuristic_main_text(text, ExtractOptions().tables)


def trafilatura_text(content: bytes, url: str = "https://example.org/", favor_recall: bool = False) -> str:
    """trafilatura.extract as a user calls it: plain-text output, its defaults (tables on; comments off,
    as in our extractor: reader comments are not the page's main content)."""
    import trafilatura

    text, _ = decode_bytes(content)
    return trafilatura.extract(text, include_comments=False, deduplicate=False, favor_recall=favor_recall) or ""


# ---------------------------------------------------------------------------------------------------
# Scoring

def bag_of_words(text: str) -> Counter:
    return Counter(w.lower() for w in _WORD.findall(text))


def precision_recall_f1(predicted: str, reference: str) -> tuple[float, float, float]:
    pred, ref = bag_of_words(predicted), bag_of_words(reference)
    overlap = sum((pred & ref).values())
    p = overlap / sum(pred.values()) if pred else 0.0
    r = overlap / sum(ref.values()) if ref else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


@dataclass
class Scores:
    name: str
    per_page: list[tuple[str, str, float, float, float]]   # (group, url, P, R, F1)
    seconds: float                                          # median over repeats of the whole page set

    def mean(self, index: int, group: str | None = None) -> float:
        rows = [row for row in self.per_page if group is None or row[0] == group]
        return statistics.fmean(row[index] for row in rows) if rows else 0.0

    @property
    def precision(self) -> float:
        return self.mean(2)

    @property
    def recall(self) -> float:
        return self.mean(3)

    @property
    def f1(self) -> float:
        return self.mean(4)

    def pages_per_second(self) -> float:
        return len(self.per_page) / self.seconds if self.seconds else 0.0


def evaluate(pages: list[EvalPage], name: str, extractor: Callable[[bytes, str], str],
             repeats: int = 1) -> Scores:
    """Score one extractor; the time is the median over `repeats` passes of the whole set."""
    times, outputs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        outputs = [extractor(page.content, page.url) for page in pages]
        times.append(time.perf_counter() - start)
    rows = [(page.group, page.url, *precision_recall_f1(out, page.reference)) for page, out in zip(pages, outputs)]
    return Scores(name, rows, statistics.median(times))


EXTRACTORS: dict[str, Callable[[bytes, str], str]] = {
    "ours (html.py generic)": ours_text,
    "trafilatura 2.3.1": trafilatura_text,
    "hand-written heuristic alone": heuristic_text,
}


# ---------------------------------------------------------------------------------------------------
# Second evaluation set: trafilatura's own benchmark (realdata/8-html-extraction/trafilatura_eval: 990
# pages of all kinds of sites, each with `with` snippets that belong to the main text and `without`
# snippets that do not). Scored as trafilatura's tests/comparison.py does: a snippet counts as found when
# it is a substring of the output; both sides are normalised first (_normalise: NFC, no invisible format
# characters, whitespace collapsed), so that line breaks, soft hyphens and Unicode composition do not
# decide the score. P/R/F1 over all snippets of the set.

TRAFILATURA_SET = Path("8-html-extraction") / "trafilatura_eval"
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class SnippetPage:
    split: str        # "dev" (looked at while developing) or "held-out" (never looked at)
    name: str
    url: str
    content: bytes
    with_: tuple[str, ...]
    without: tuple[str, ...]


def snippet_split(name: str) -> str:
    """A fixed half of the pages for development, by a hash of the file name."""
    import hashlib

    return "dev" if hashlib.sha256(name.encode("utf-8")).digest()[0] % 2 == 0 else "held-out"


def load_snippet_pages(realdata: Path) -> list[SnippetPage]:
    import gzip

    folder = realdata / TRAFILATURA_SET
    index = folder / "evaldata.json"
    if not index.is_file():
        return []
    pages = []
    for url, item in sorted(json.loads(index.read_text(encoding="utf-8")).items()):
        path = folder / "html" / (item["file"] + ".gz")
        if not path.is_file():
            continue
        pages.append(SnippetPage(snippet_split(item["file"]), item["file"], url, gzip.decompress(path.read_bytes()),
                                 tuple(item.get("with") or ()), tuple(item.get("without") or ())))
    return pages


@dataclass
class SnippetScores:
    name: str
    tp: int
    fn: int
    fp: int
    tn: int
    pages: int
    seconds: float

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def pages_per_second(self) -> float:
        return self.pages / self.seconds if self.seconds else 0.0

    def __add__(self, other: "SnippetScores") -> "SnippetScores":
        return SnippetScores(self.name, self.tp + other.tp, self.fn + other.fn, self.fp + other.fp,
                             self.tn + other.tn, self.pages + other.pages, self.seconds + other.seconds)


def _normalise(text: str) -> str:
    """What the pipeline's clean stage does anyway (NFC, invisible format characters such as soft hyphens
    removed), then whitespace collapsed: applied alike to every extractor's output and to the snippets."""
    text = "".join(c for c in unicodedata.normalize("NFC", text) if unicodedata.category(c) != "Cf")
    return _SPACES.sub(" ", text).strip()


def snippet_counts(output: str, page: SnippetPage) -> tuple[int, int, int, int]:
    text = _normalise(output)
    found = [_normalise(s) in text for s in page.with_]
    leaked = [_normalise(s) in text for s in page.without]
    return sum(found), len(found) - sum(found), sum(leaked), len(leaked) - sum(leaked)


def evaluate_snippets(pages: list[SnippetPage], name: str, extractor: Callable[[bytes, str], str]) -> SnippetScores:
    start = time.perf_counter()
    outputs = [extractor(page.content, page.url) for page in pages]
    seconds = time.perf_counter() - start
    totals = [0, 0, 0, 0]
    for page, out in zip(pages, outputs):
        for i, n in enumerate(snippet_counts(out, page)):
            totals[i] += n
    return SnippetScores(name, *totals, pages=len(pages), seconds=seconds)
