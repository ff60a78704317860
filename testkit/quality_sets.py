"""Good and junk documents for measuring the quality stage, built from ../shared/realdata (read, never
copied) the way the pipeline sees them: raw bytes -> `extract_record` -> `clean_document`.
NGC summaries, MEDLINE records and the web pages are not redistributable; a clone without ../shared
builds the same kinds of sets from tests/data/realdata instead (`bundled_good_documents`, `cdc_pages`):
CDC reports as guidelines, the bundled CC BY articles as papers, CDC pages' own chrome as junk.

Good (judged by reading samples of each; provenance: curated, peer-reviewed or indexed):
- guidelines: every guideline.gov (NGC) structured summary (NICE, WHO, CDC, USPSTF, IDSA, ... syntheses
  with repeated field labels, rating-scheme definitions and cross-references);
- papers: every PMC/PLOS/SciELO JATS article;
- abstracts: every MEDLINE citation of the efetch sample and of NLM's 2009 sample file.
Records judged not good are left out, each with the reason (NOT_GOOD).

Junk (what the quality stage exists for), built deterministically:
- navigation: the link texts of real pages' <nav>/<header>/<footer> and menus, as a page's main text;
- link_list: every link text of a real page's body, one list item each ("related links", site maps);
- error: soft-404/403/500/maintenance/JavaScript-required pages inside real site chrome;
- boilerplate: cookie notices, share bars, copyright and review lines only;
- garbled: real documents mis-decoded (UTF-16 read as cp1252, a gzip body read as text, Cyrillic
  cp1251 bytes declared as windows-1252).
"""
from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path
from typing import Iterator

from schemas.document import Document
from schemas.raw import RawRecord
from transforms.clean import clean_document
from transforms.extract import ExtractError, ExtractOptions, extract_record

NGC = "3-guidelines/ngc_summaries_xml"
JATS = "1-pmc-jats"
MEDLINE = ("2-pubmed-medline/metapub_pmid_xml", "2-pubmed-medline/nlm_samples/pubmed_sample_2009.xml")
WEB = "8-html-extraction/trafilatura_eval/html"
CDC = "3-guidelines/cdc_harvest"
CDC_REPORTS = f"{CDC}/mmsu_art_en_txt_json.zip"  # MMWR surveillance summaries, plain text, public domain
CDC_PAGES = tuple(f"{CDC}/{name}" for name in ("mmwr_toc_en_html_json.zip", "pcd_toc_en_html_json.zip",
                                               "mmwr_art_es_html_json.zip"))
CLEANING = {"remove_urls": True}
# Junk pages are read as a source added with `gap sources add` reads them: the page's <main>.
JUNK_RULES = {"content": {"format": "html", "title_selector": "h1", "body_selector": "main"}}
# Records read and judged not to be good documents (they are not counted as false drops).
NOT_GOOD = {
    "39769357.xml": "MEDLINE citation without an abstract: the title alone (17 words)",
    "0034-8910-rsp-48-2-0366.xml": "SciELO erratum notice (22 words), no article text",
}


# Written for these tests (no publisher text): (intervention, AAOS wording, comparison with ACR/OARSI, evidence) for a knee osteoarthritis synthesis.
RECOMMENDATIONS = [
    ("Exercise", "we recommend supervised or unsupervised exercise to improve pain and function",
     "The ACR strongly recommends exercise as well; OARSI lists land-based exercise as a core treatment for all.",
     "Twenty-one trials of strengthening, aerobic and aquatic programmes reported consistent benefits on pain."),
    ("Weight loss", "we recommend weight loss for those with a body mass index of 25 or more",
     "The ACR agrees and quantifies the target as at least five percent of body weight; OARSI calls it core.",
     "Benefits grew with the amount lost, and losses above ten percent improved function most."),
    ("Topical NSAIDs", "we recommend topical nonsteroidal anti-inflammatory drugs",
     "The ACR strongly recommends them before oral agents, and OARSI gives them its highest rating for the knee.",
     "Gel formulations reduced pain with few systemic adverse events in trials of up to twelve weeks."),
    ("Oral NSAIDs", "we recommend oral nonsteroidal anti-inflammatory drugs when not contraindicated",
     "The ACR strongly recommends them, while OARSI advises caution in people with gastrointestinal or cardiovascular risk.",
     "Pooled analyses showed moderate pain relief, with bleeding and renal harms rising with age and dose."),
    ("Intra-articular corticosteroids", "intra-articular corticosteroid injection could be used for short-term relief",
     "The ACR strongly recommends injections, but OARSI restricts them to flares with effusion.",
     "Relief lasted four to six weeks; repeated injections every three months did not slow cartilage loss."),
    ("Hyaluronic acid", "we cannot recommend intra-articular hyaluronic acid for routine use",
     "The ACR conditionally recommends against it, whereas OARSI considers it an option for selected patients.",
     "Large sham-controlled trials found differences below the threshold of clinical importance."),
    ("Opioids", "tramadol may be considered, but other opioids are not recommended",
     "The ACR conditionally recommends tramadol and recommends against other opioids; OARSI advises against both.",
     "Dizziness, constipation and dependence outweighed modest analgesia in most trials."),
    ("Bracing and canes", "unloader braces could be used, and a cane is recommended for those with instability",
     "The ACR strongly recommends a cane and tibiofemoral bracing; OARSI found too little evidence for braces.",
     "Biomechanical studies showed reduced medial compartment load during gait with both aids."),
]


def _raw(source: str, name: str, kind: str, content: bytes, meta: dict | None = None) -> RawRecord:
    return RawRecord.make(source=source, url=f"https://example.org/{name}", fetched_at="2024-01-01T00:00:00Z",
                          content_type=kind, content=content, meta=meta or {})


def pipeline_documents(raw: RawRecord, subset: str, rules: dict | None = None) -> list[Document]:
    """What reaches the quality stage from one raw record: extraction, then the cleaning rules."""
    try:
        out = extract_record(raw, subset=subset, options=ExtractOptions(), rules=rules or {})
    except ExtractError:
        return []
    docs = []
    for item in out:
        if isinstance(item, Document):
            cleaned = clean_document(item, CLEANING)
            if isinstance(cleaned, Document):
                docs.append(cleaned)
    return docs


def good_documents(realdata: Path, per_set: int | None = None) -> Iterator[tuple[str, str, Document]]:
    """(subset, file name, document) for every good document; `per_set` caps each subset (quick runs)."""
    ngc = sorted((realdata / NGC).glob("*.xml"))
    jats = sorted(p for p in (realdata / JATS).rglob("*") if p.suffix in (".xml", ".nxml"))
    medline = sorted((realdata / MEDLINE[0]).glob("*.xml")) + [realdata / MEDLINE[1]]
    for subset, kind, paths in (("guidelines", "html", ngc), ("papers", "jats", jats),
                                ("abstracts", "pubmed-xml", medline)):
        count = 0
        for path in paths:
            if path.name in NOT_GOOD or not path.is_file():
                continue
            for doc in pipeline_documents(_raw(subset, path.name, kind, path.read_bytes()), subset):
                if per_set is not None and count >= per_set:
                    break
                count += 1
                yield subset, path.name, doc


def _zip_json(path: Path) -> dict[str, str]:
    import zipfile
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read(archive.namelist()[0]))


def bundled_good_documents(realdata: Path, per_set: int) -> Iterator[tuple[str, str, Document]]:
    """The good set from redistributable files only: CDC MMWR surveillance reports as guidelines (first
    `per_set`, as a text source stores them) and every JATS article of `realdata` as papers."""
    reports = sorted(_zip_json(realdata / CDC_REPORTS).items())[:per_set]
    for url, text in reports:
        name = url.rsplit("/", 1)[-1]
        for doc in pipeline_documents(_raw("guidelines", name, "text", text.encode("utf-8")), "guidelines"):
            yield "guidelines", name, doc
    for subset, name, doc in good_documents(realdata, per_set=per_set):
        if subset == "papers":
            yield subset, name, doc


def _chrome(tree) -> list[str]:
    return _link_texts(tree.xpath("//nav|//header|//footer|//*[contains(@class,'menu')]"))


def cdc_pages(realdata: Path, count: int) -> list[tuple[str, "object"]]:
    """Real CDC pages that carry site chrome (8+ links in nav/header/footer/menus), in place of the
    web pages junk is built from."""
    import lxml.html
    pages = []
    for relative in CDC_PAGES:
        for url, html_text in sorted(_zip_json(realdata / relative).items()):
            tree = lxml.html.fromstring(html_text.encode("utf-8"))
            if len(_chrome(tree)) >= 8:
                pages.append((url.rsplit("/", 1)[-1], tree))
    return pages[:count]


def _pick(key: str, options: list) -> object:
    """A deterministic choice among `options` keyed by a string (no process randomness)."""
    return options[int(hashlib.sha256(key.encode()).hexdigest(), 16) % len(options)]


def _web_pages(realdata: Path, count: int) -> list[tuple[str, "object"]]:
    import lxml.html
    pages = []
    for path in sorted((realdata / WEB).glob("*.html.gz")):
        try:
            tree = lxml.html.fromstring(gzip.decompress(path.read_bytes()))
        except Exception:  # an unparsable evaluation page is simply not used
            continue
        pages.append((path.name.split(".")[0], tree))
        if len(pages) >= count:
            break
    return pages


def _link_texts(elements) -> list[str]:
    texts = []
    for el in elements:
        for a in el.iter("a"):
            text = " ".join((a.text_content() or "").split())
            if text and len(text) < 120 and text not in texts:
                texts.append(text)
    return texts


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _page(title: str, main: str, chrome: list[str]) -> bytes:
    nav = "".join(f"<li><a href='#'>{_escape(t)}</a></li>" for t in chrome[:12])
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{_escape(title)}</title></head><body>"
            f"<nav><ul>{nav}</ul></nav><main>{main}</main><footer>Privacy | Terms</footer></body></html>").encode()


ERRORS = [
    ("Page not found", "<h1>Page not found (404)</h1><p>Sorry, the page you requested could not be found.</p>"
     "<p>It may have been moved or deleted. Try one of these pages instead:</p>"),
    ("Access denied", "<h1>403 Forbidden</h1><p>You don't have permission to access this resource.</p>"
     "<p>Please log in or contact the site administrator. Useful links:</p>"),
    ("Server error", "<h1>500 Internal Server Error</h1><p>Something went wrong on our end. Please try again later.</p>"
     "<p>Reference ID: 7f3a9c. Meanwhile you can visit:</p>"),
    ("Down for maintenance", "<h1>We'll be back soon</h1><p>This site is undergoing scheduled maintenance.</p>"
     "<p>Thank you for your patience. Other services:</p>"),
    ("JavaScript required", "<h1>Please enable JavaScript</h1><p>This page requires JavaScript to display its content.</p>"
     "<p>Enable JavaScript in your browser settings and reload. Or browse:</p>"),
    ("Session expired", "<h1>Your session has expired</h1><p>For your security you have been signed out.</p>"
     "<p>Sign in again to continue. Popular pages:</p>"),
]
BOILERPLATE = [
    "We use cookies to improve your experience on our website. By continuing to browse you agree to our use of cookies.",
    "Accept all cookies", "Manage cookie settings", "Reject non-essential cookies",
    "Share this page: Facebook Twitter LinkedIn Email Print", "Share", "Print this page", "Email this page",
    "Copyright © 2024 All rights reserved.", "Terms and conditions | Privacy policy | Accessibility statement",
    "Page last reviewed: 12 March 2024", "Next review due: 12 March 2027", "Was this page helpful? Yes No",
    "Sign up for our newsletter", "Follow us on social media", "Back to top", "Skip to main content",
    "Contact us | About us | Careers | Press office", "This site is not a substitute for professional medical advice.",
]


def junk_documents(realdata: Path, per_kind: int = 30, pages: list | None = None,
                   sources: list[Document] | None = None) -> Iterator[tuple[str, str, list[Document]]]:
    """(kind, name, documents that reach the quality stage) for every junk page; an empty list means an
    earlier stage (extraction or cleaning) already dropped it. `pages` (name, lxml tree) and `sources`
    (good documents to garble) default to the web pages and good set of ../shared/realdata."""
    if pages is None:
        pages = _web_pages(realdata, per_kind * 2)
    chromes = []
    for name, tree in pages:
        chrome = _chrome(tree)
        if len(chrome) >= 8:
            chromes.append((name, chrome))
    for name, chrome in chromes[:per_kind]:
        links = "".join(f"<li><a href='#'>{_escape(t)}</a></li>" for t in chrome[:80])
        raw = _raw("junk", f"nav-{name}", "html", _page("Menu", f"<ul>{links}</ul>", chrome))
        yield "navigation", name, pipeline_documents(raw, "guidelines", JUNK_RULES)
    bodies = [(name, _link_texts(tree.xpath("//body"))) for name, tree in pages]
    for name, links in [b for b in bodies if len(b[1]) >= 10][:per_kind]:
        items = "".join(f"<li><a href='#'>{_escape(t)}</a></li>" for t in links[:150])
        raw = _raw("junk", f"links-{name}", "html", _page("Related links", f"<h1>Related links</h1><ul>{items}</ul>", links))
        yield "link_list", name, pipeline_documents(raw, "guidelines", JUNK_RULES)
    for i, (name, chrome) in enumerate((chromes * 2)[:per_kind]):
        title, body = ERRORS[i % len(ERRORS)]
        suggestions = "".join(f"<li><a href='#'>{_escape(t)}</a></li>" for t in chrome[:40])
        raw = _raw("junk", f"error-{i}", "html", _page(title, f"{body}<ul>{suggestions}</ul>", chrome))
        yield "error", f"{title} ({name})", pipeline_documents(raw, "guidelines", JUNK_RULES)
    for i in range(per_kind):
        lines = [str(_pick(f"boiler-{i}-{j}", BOILERPLATE)) for j in range(12 + i % 10)]
        main = "".join(f"<p>{_escape(line)}</p>" for line in lines)
        raw = _raw("junk", f"boiler-{i}", "html", _page("Notice", main, []))
        yield "boilerplate", f"boilerplate-{i}", pipeline_documents(raw, "guidelines", JUNK_RULES)
    # Mis-decoded: real good text whose bytes a wrong decoder read.
    if sources is None:
        sources = [doc for _, _, doc in good_documents(realdata, per_set=per_kind)][: per_kind]
    for i, doc in enumerate(sources):
        text = doc.text[:6000]
        kind = i % 3
        if kind == 0:    # UTF-16 without a BOM, page declared windows-1252
            body = ("<html><head><meta charset='windows-1252'></head><body><main>".encode("cp1252")
                    + text.encode("utf-16-le") + b"</main></body></html>")
            raw = _raw("junk", f"utf16-{i}", "html", body)
        elif kind == 1:  # a gzip-compressed body stored as if it were text
            raw = _raw("junk", f"gzip-{i}", "text", gzip.compress(text.encode("utf-8"), mtime=0))
        else:            # Cyrillic cp1251 bytes declared as windows-1252
            paras = "".join(f"<p>{_escape(line)}</p>" for line in text.translate(_LATIN_TO_CYRILLIC).split("\n"))
            body = ("<html><head><meta charset='windows-1252'></head><body><main>".encode("cp1252")
                    + paras.encode("cp1251", errors="replace") + b"</main></body></html>")
            raw = _raw("junk", f"cp1251-{i}", "html", body)
        yield "garbled", raw.url.rsplit("/", 1)[-1], pipeline_documents(raw, doc.subset, JUNK_RULES)


# A transliteration table that turns English text into Cyrillic letters (a stand-in for a Russian page).
_LATIN_TO_CYRILLIC = str.maketrans("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
                                   "абцдефгхийклмнопярстуввхызАБЦДЕФГХИЙКЛМНОПЯРСТУВВХЫЗ")
