"""HTML extraction: selectors, generic fallback, structure, encodings, real CDC pages and NGC summaries."""
from __future__ import annotations

import json
import re
import zipfile

import pytest

from schemas.document import Document
from schemas.events import Drop
from schemas.raw import RawRecord
from testkit.realdata import need, per_file
from transforms.extract.errors import ExtractError
from transforms.extract.html import (combine_main_content, content_selector_problem, css_to_xpath, extract_html,
                                     extract_html_text, strip_internal_subsets)
from transforms.extract.options import ExtractOptions

OPTIONS = ExtractOptions()


def _raw(content: bytes | str, url: str = "https://example.org/page.html", meta=None) -> RawRecord:
    if isinstance(content, str):
        content = content.encode("utf-8")
    return RawRecord.make(source="site", url=url, fetched_at="2024-01-01T00:00:00Z", content_type="html",
                          content=content, meta=meta or {})


PAGE = """<!DOCTYPE html><html><head><title>Asthma guideline | Example Health</title>
<script>var tracking = "SECRET_SCRIPT";</script><style>.x{color:red}</style></head>
<body>
<div id="cookie-banner">We use cookies. <button>Accept all</button></div>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/a">About us</a></li></ul></nav></header>
<div class="breadcrumb"><a href="/">Home</a> &gt; <a href="/g">Guidelines</a></div>
<main>
<h1>Asthma in adults</h1>
<p>Offer a <a href="https://example.org/ics">low-dose inhaled corticosteroid</a> to adults
   with newly diagnosed asthma.</p>
<h2>Monitoring</h2>
<ul><li>Check inhaler technique</li><li>Review adherence<ul><li>at every visit</li></ul></li></ul>
<table><caption>Table 1. Doses</caption><tr><th>Drug</th><th>Dose</th></tr>
<tr><td>Budesonide</td><td>200 micrograms</td></tr></table>
<p>Line one<br>Line two</p>
</main>
<footer>Copyright Example Health. <a href="/privacy">Privacy</a></footer>
</body></html>"""


def test_generic_extraction_keeps_structure_and_drops_chrome():
    title, text, method = extract_html_text(PAGE, {})
    # Too little text for trafilatura (under its 250-character floor it falls back to a flat dump of the
    # page, menus included): the hand-written extractor's structured text is used instead.
    assert method == "heuristic"
    assert title == "Asthma guideline | Example Health"
    assert text.startswith("# Asthma in adults\n\n")
    assert "Offer a low-dose inhaled corticosteroid to adults with newly diagnosed asthma." in text
    assert "## Monitoring" in text.splitlines()
    assert "- Check inhaler technique\n- Review adherence\n  - at every visit" in text
    assert "Drug | Dose\nBudesonide | 200 micrograms" in text
    assert "Line one\nLine two" in text
    for chrome in ("SECRET_SCRIPT", "cookies", "Accept all", "About us", "Guidelines", "Copyright", "https://", "color:red"):
        assert chrome not in text, chrome


@pytest.mark.parametrize("tables,present,absent", [
    ("linearize", ["Table 1. Doses", "Budesonide | 200 micrograms"], []),
    ("caption", ["Table 1. Doses"], ["Budesonide"]),
    ("drop", [], ["Table 1. Doses", "Budesonide"]),
])
def test_table_options(tables, present, absent):
    _, text, _ = extract_html_text(PAGE, {}, tables=tables)
    for s in present:
        assert s in text
    for s in absent:
        assert s not in text


def test_selectors_win_over_generic():
    content = {"title_selector": "main h1", "body_selector": "main > ul, table",
               "remove_selectors": ["li > ul"]}
    title, text, method = extract_html_text(PAGE, content)
    assert method == "selector"
    assert title == "Asthma in adults"
    assert text == "- Check inhaler technique\n- Review adherence\n\nTable 1. Doses\nDrug | Dose\nBudesonide | 200 micrograms"


def test_selector_matching_nothing_falls_back_to_generic():
    _, text, method = extract_html_text(PAGE, {"body_selector": "div.no-such-thing"})
    assert method == "heuristic" and "# Asthma in adults" in text


@pytest.mark.parametrize("selector,expected", [
    ("div.story", "descendant-or-self::div[contains(concat(' ', normalize-space(@class), ' '), ' story ')]"),
    ("#content-main", "descendant-or-self::*[@id='content-main']"),
    ("main > p", "descendant-or-self::main/p"),
    ("a[href^='/x']", "descendant-or-self::a[starts-with(@href, '/x')]"),
])
def test_css_subset(selector, expected):
    assert css_to_xpath(selector) == expected


@pytest.mark.parametrize("bad", ["div:nth-child(2)", "a ~ b", "p::before"])
def test_unsupported_selector_is_a_clear_error(bad):
    with pytest.raises(ExtractError, match="bad content selector"):
        extract_html(_raw(PAGE), subset="guidelines", options=OPTIONS, rules={"content": {"body_selector": bad}})


def test_document_fields_and_empty_page_drop():
    [doc] = extract_html(_raw(PAGE, meta={"license": "CC0"}), subset="guidelines", options=OPTIONS,
                         rules={"content": {}, "cleaning": {}})
    assert isinstance(doc, Document) and doc.license == "CC0" and doc.meta["extractor"] == "heuristic"
    [drop] = extract_html(_raw("<html><body><nav><a href='/'>Home</a></nav></body></html>"),
                          subset="guidelines", options=OPTIONS, rules={})
    assert isinstance(drop, Drop) and drop.reason == "no_text"
    with pytest.raises(ExtractError):
        extract_html(_raw(b"   "), subset="guidelines", options=OPTIONS, rules={})


# --- encodings -------------------------------------------------------------------------------------

def test_meta_charset_cp1252_page():
    html = '<html><head><meta charset="windows-1252"></head><body><p>Caf\xe9 \u2013 \u201cquoted\u201d na\xefve</p></body></html>'
    [doc] = extract_html(_raw(html.encode("cp1252")), subset="guidelines", options=OPTIONS, rules={})
    assert "Café – “quoted” naïve" in doc.text
    assert doc.meta["encoding"] == "cp1252"


def test_undeclared_cp1252_pages_are_read_as_cp1252_and_say_so():
    from charset_normalizer import from_bytes

    from tests.transforms.extract._cp1252_pages import PAGES
    detector_wrong = 0
    for name, page in PAGES:
        raw = page.encode("cp1252")
        assert b"charset" not in raw
        best = from_bytes(raw).best()
        detector_wrong += best.encoding != "cp1252" and raw.decode(best.encoding, "replace") != page
        [doc] = extract_html(_raw(raw), subset="guidelines", options=OPTIONS, rules={})
        meta = doc.meta
        assert (meta["encoding"], meta["encoding_origin"]) == ("cp1252", "latin-default"), name
        assert 0.9 <= meta["encoding_confidence"] <= 1.0
        for word in re.findall(r"\w*[^\x00-\x7f]\w*", page):  # every non-ASCII word survives as written
            assert word in doc.text or word in doc.title, (name, word)
        assert "\ufffd" not in doc.text and "ď" not in doc.text
    assert detector_wrong >= 2  # what the detector alone would have corrupted (3 of these 7 at the time of writing)


@pytest.mark.parametrize("text, encoding, declared, expected", [
    # declared by HTTP (the crawler stores the header's charset in meta) beats the cp1252 default
    ("Zalecenia: pacjent powinien unikać soli; dawka – 5 mg.", "cp1250", "windows-1250", ("cp1250", "declared-http")),
    # declared in the page
    ("<meta charset='koi8-r'>Рекомендации врача: приём лекарства дважды в день.", "koi8-r", None, ("koi8-r", "declared-meta")),
    # another script, undeclared: charset-normalizer only when confident
    ("Рекомендации врача: приём лекарства дважды в день после еды, при болях.", "cp1251", None, ("cp1251", "detected")),
    # a Latin table other than cp1252 wins only when clearly less chaotic (Czech)
    ("Příliš žluťoučký kůň úpěl ďábelské ódy. Lékař doporučuje léčbu.", "cp1250", None, ("cp1250", "detected")),
])
def test_encoding_choice_and_origin_are_recorded(text, encoding, declared, expected):
    raw = f"<html><body><p>{text} {text}</p></body></html>".encode(encoding)
    [doc] = extract_html(_raw(raw, meta={"charset": declared} if declared else None), subset="guidelines",
                         options=OPTIONS, rules={})
    meta = doc.meta
    assert (meta["encoding"], meta["encoding_origin"]) == expected
    assert text.split(">")[-1] in doc.text


# --- real pages ------------------------------------------------------------------------------------

def _cdc_pages(realdata, name):
    path = need(realdata, f"3-guidelines/cdc_harvest/{name}")
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read(archive.namelist()[0]))


def test_cdc_mmwr_pages(realdata):
    pages = _cdc_pages(realdata, "mmwr_art_es_html_json.zip")
    assert len(pages) == 23
    for url, html in pages.items():
        if url.endswith("su6101a2_ensp.htm"):
            continue  # a shell page: its article is not in the HTML at all (238 words of disclaimers)
        [doc] = extract_html(_raw(html, url=url), subset="guidelines", options=OPTIONS, rules={})
        text = doc.text
        assert doc.title, url
        assert len(text.split()) > 150, url
        # Site chrome is gone, the article is there.
        for chrome in ("Skip directly to", "Skip Navigation", "function(", "Email this page",
                       "Get email updates", "http://www.cdc.gov/mmwr/mmwrsubscribe"):
            assert chrome not in text, (url, chrome)
        assert not re.search(r"\bvar \w+ ?=|document\.write", text), url
        assert re.search(r"^# \S", text, re.MULTILINE), url
    dengue = pages["https://www.cdc.gov/mmwr/volumes/73/wr/mm7304a4_ensp.htm"]
    [doc] = extract_html(_raw(dengue), subset="guidelines", options=OPTIONS, rules={})
    # The heading is `Notas Desde el Campo</span>: Brote ...`; the page title spells it without the space the
    # old renderer put at every element boundary.
    assert "# Notas Desde el Campo: Brote de Dengue — Perú, 2023" in doc.text
    assert doc.meta["extractor"] == "main-content"
    assert "El dengue, una enfermedad viral transmitida por mosquitos, es endémico en Perú" in doc.text


def test_cdc_selector_rules(realdata):
    pages = _cdc_pages(realdata, "mmwr_art_es_html_json.zip")
    html = pages["https://www.cdc.gov/mmwr/preview/mmwrhtml/mm5911a1_ensp.htm"]
    rules = {"content": {"title_selector": "h1, title", "body_selector": "#content",
                         "remove_selectors": [".pageOptions-horizontal", "#linkPolicy"]}}
    [doc] = extract_html(_raw(html), subset="guidelines", options=OPTIONS, rules=rules)
    assert doc.meta["extractor"] == "selector"
    assert len(doc.text.split()) > 3000
    assert "Text size" not in doc.text and "Recommend on Facebook" not in doc.text


NGC_SAMPLE = ["ngc-10540.xml", "ngc-10187.xml", "ngc-9512.xml", "ngc-10746.xml", "ngc-11211.xml"]


@pytest.mark.parametrize("name", per_file("3-guidelines/ngc_summaries_xml", NGC_SAMPLE))
def test_ngc_summaries_escaped_html_decoded(realdata, name):
    path = need(realdata, f"3-guidelines/ngc_summaries_xml/{name}")
    [doc] = extract_html(_raw(path.read_bytes(), url=f"https://guideline.gov/{name}"), subset="guidelines",
                         options=OPTIONS, rules={})
    text = doc.text
    assert doc.meta["extractor"] == "ngc-summary"
    assert "## Major Recommendations" in text.splitlines()
    recs = text.split("## Major Recommendations", 1)[1]
    assert len(recs.split()) > 50
    for escaped in ("&lt;", "&gt;", "&quot;", "&amp;", "<div", "<p>", "content_para", "&nbsp;"):
        assert escaped not in text, escaped
    assert text.startswith("# ") and doc.title and doc.title in text.splitlines()[0]
    assert "Bibliographic Source(s)" not in text  # administrative fields are skipped


def test_ngc_major_recommendations_content(realdata):
    path = need(realdata, "3-guidelines/ngc_summaries_xml/ngc-10540.xml")
    [doc] = extract_html(_raw(path.read_bytes()), subset="guidelines", options=OPTIONS, rules={})
    assert doc.title == ("EGFR-TK mutation testing in adults with locally advanced or metastatic "
                         "non-small-cell lung cancer.")
    assert "- therascreen EGFR RGQ PCR Kit (CE-marked)\n- cobas EGFR Mutation Test (CE-marked)" in doc.text


def test_all_ngc_summaries_extract(realdata):
    folder = need(realdata, "3-guidelines/ngc_summaries_xml")
    outcomes = {"doc": 0, "drop": 0}
    for path in sorted(folder.glob("*.xml")):
        for out in extract_html(_raw(path.read_bytes(), url=path.name), subset="guidelines", options=OPTIONS, rules={}):
            outcomes["doc" if isinstance(out, Document) else "drop"] += 1
    assert outcomes["doc"] >= 250


def test_reach_mock_nice_page(realdata):
    path = need(realdata, "3-guidelines/reach_mock_sites/nice_wsf-scraper-web_tests_mock_sites_nice_2.html")
    [doc] = extract_html(_raw(path.read_bytes()), subset="guidelines", options=OPTIONS, rules={})
    assert "<" not in doc.text and "cookie" not in doc.text.lower()


# --- generic extraction: trafilatura's main content + the heuristic --------------------------------------

PARAGRAPHS = [
    "Hypertension affects about one in three adults and is the leading modifiable risk factor for stroke, "
    "heart failure and chronic kidney disease in every region that has been studied so far.",
    "Blood pressure should be measured in both arms at the first visit, with the patient seated and rested "
    "for five minutes, using a validated device and a cuff of the right size for the arm.",
    "Ambulatory monitoring confirms the diagnosis when clinic readings are between 140/90 and 180/120 mmHg, "
    "because white-coat effects otherwise lead to treatment that the patient does not need at all.",
    "Lifestyle advice comes first: less salt, regular exercise, moderate alcohol and a healthy weight lower "
    "blood pressure by several mmHg each, and they add up when patients manage to combine them.",
]
ARTICLE = f"""<!DOCTYPE html><html><head><title>Hypertension in adults</title></head><body>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/topics">Health topics</a></li>
<li><a href="/about">About the institute</a></li></ul></nav></header>
<div class="layout"><div class="content"><article>
<h1>Hypertension in adults: diagnosis and management</h1>
<p>{PARAGRAPHS[0]}</p>
<h2>Measuring blood pressure</h2>
<p>{PARAGRAPHS[1]}</p>
<ul><li>Use a validated upper-arm device with the correct cuff size</li>
<li>Repeat the measurement when the first reading is high</li></ul>
<p>{PARAGRAPHS[2]}</p>
<table><tr><th>Stage</th><th>Clinic blood pressure</th></tr>
<tr><td>Stage 1</td><td>140/90 to 159/99 mmHg</td></tr>
<tr><td>Stage 2</td><td>160/100 to 179/119 mmHg</td></tr></table>
<p>{PARAGRAPHS[3]}</p>
</article></div>
<aside class="sidebar"><h3>Related pages</h3><ul><li><a href="/a">Stroke prevention leaflets</a></li>
<li><a href="/b">Kidney disease pathway</a></li><li><a href="/c">Heart failure overview page</a></li></ul></aside>
</div>
<footer><p>Copyright 2024 Example Institute. All rights reserved.</p><a href="/privacy">Privacy policy</a></footer>
</body></html>"""


def test_main_content_keeps_house_structure_and_drops_chrome():
    title, text, method = extract_html_text(ARTICLE, {})
    assert method == "main-content"
    assert title == "Hypertension in adults"
    assert "# Hypertension in adults: diagnosis and management" in text.split("\n")
    assert "## Measuring blood pressure" in text.split("\n")
    for paragraph in PARAGRAPHS:
        assert paragraph in text
    assert ("- Use a validated upper-arm device with the correct cuff size\n"
            "- Repeat the measurement when the first reading is high") in text
    assert "Stage | Clinic blood pressure\nStage 1 | 140/90 to 159/99 mmHg\nStage 2 | 160/100 to 179/119 mmHg" in text
    for chrome in ("Health topics", "About the institute", "Related pages", "Kidney disease pathway",
                   "Copyright 2024", "Privacy policy"):
        assert chrome not in text, chrome
    # the order of the page is kept
    positions = [text.index(p) for p in PARAGRAPHS]
    assert positions == sorted(positions)


@pytest.mark.parametrize("tables,present,absent", [
    ("linearize", ["Stage 1 | 140/90 to 159/99 mmHg"], []),
    ("drop", [], ["Stage 1", "Clinic blood pressure"]),
])
def test_main_content_table_options(tables, present, absent):
    _, text, method = extract_html_text(ARTICLE, {}, tables=tables)
    assert method == "main-content" and PARAGRAPHS[3] in text
    for s in present:
        assert s in text
    for s in absent:
        assert s not in text


def test_main_content_table_caption_option():
    page = ARTICLE.replace("<table>", "<table><caption>Table 1. Stages of hypertension</caption>")
    _, text, _ = extract_html_text(page, {}, tables="caption")
    assert "Table 1. Stages of hypertension" in text and "Stage 1" not in text


def test_main_content_is_deterministic():
    first = extract_html_text(ARTICLE, {})
    assert all(extract_html_text(ARTICLE, {}) == first for _ in range(3))


def _para(i: int, words: int = 25) -> str:
    return " ".join(f"w{i}x{j}" for j in range(words)) + "."


def test_combine_fills_a_gap_between_agreed_blocks():
    a, b, c, missed = _para(1), _para(2), _para(3), _para(4)
    primary = "\n\n".join([a, b, c])
    heuristic = "\n\n".join([a, missed, b, c])
    assert combine_main_content(primary, heuristic) == "\n\n".join([a, missed, b, c])
    # outside the agreed span (before the first or after the last common block) nothing is added
    assert combine_main_content(primary, "\n\n".join([missed, a, b, c])) == primary
    assert combine_main_content(primary, "\n\n".join([a, b, c, missed])) == primary
    # short blocks and headings are not added
    for extra in ("Share this page on social media", "# " + _para(5)):
        assert combine_main_content(primary, "\n\n".join([a, extra, b, c])) == primary


def test_combine_trims_short_edge_blocks_only_trafilatura_kept():
    body = [_para(i) for i in range(1, 6)]
    primary = "\n\n".join(["By Staff Writer | 3 min read", *body, "Related: more stories you may like"])
    assert combine_main_content(primary, "\n\n".join(body)) == "\n\n".join(body)
    # a long paragraph at the edge is kept, and so is a short block the heuristic kept too
    long_edge = _para(9, words=40)
    assert combine_main_content("\n\n".join([*body, long_edge]), "\n\n".join(body)).endswith(long_edge)
    assert combine_main_content("\n\n".join(["Short intro line", *body]),
                                "\n\n".join(["Short intro line", *body])).startswith("Short intro line")
    # when the two disagree on most of the content, trafilatura's text is left alone
    assert combine_main_content(primary, body[0]) == primary


def test_combine_prefers_structured_heuristic_over_one_flat_block():
    heuristic = "# Title here now\n\n- item one two three\n- item four five six\n\nA paragraph of text here."
    flat = "Home About Title here now item one two three item four five six A paragraph of text here."
    assert combine_main_content(flat, heuristic) is heuristic


# --- DTD internal subsets: XXE and billion laughs ------------------------------------------------------

LAUGHS = ('<!DOCTYPE html [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{(f"&lol{i - 1};" if i > 1 else "&lol;") * 10}">' for i in range(1, 10))
          + "]>")
HOSTILE = [
    '<!DOCTYPE html [\n  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n]>',
    '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "x.dtd" [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x">]>',
    '<!DOCTYPE html [<!-- a comment with ]> inside --><!ENTITY xxe "a > b ]> c"><!ENTITY % pe "x"> %pe; ]>',
    LAUGHS,
    '<!DOCTYPE html [<!ENTITY xxe SYSTEM "file:///etc/passwd">',  # never closed
]


@pytest.mark.parametrize("doctype", HOSTILE)
def test_internal_subset_removed_without_residue(doctype):
    body = " ".join(PARAGRAPHS)
    ref = "&lol9;" if "lol9" in doctype else "&xxe;"
    page = (f"{doctype}<html><head><title>T {ref}</title></head><body><main><h1>Heading</h1>"
            f"<p>Start {ref} middle &amp; &copy; end. {body}</p></main></body></html>")
    for content in (page, '<?xml version="1.0"?>\n' + page):
        [doc] = extract_html(_raw(content), subset="guidelines", options=OPTIONS, rules={})
        for residue in ("]>", "&xxe;", "&lol", "ENTITY", "lollol", "root:", "%pe;"):
            assert residue not in doc.text and residue not in doc.title, (residue, doc.text[:200])
        assert "Start middle & © end." in doc.text  # HTML's own entities still work
        assert PARAGRAPHS[3] in doc.text


def test_strip_internal_subsets_leaves_other_pages_alone():
    plain = "<!DOCTYPE html><html><body><p>a ]> b &amp; &unknown;</p></body></html>"
    assert strip_internal_subsets(plain) == plain
    assert strip_internal_subsets('<!doctype html [<!ENTITY a "1">]><p>&a;&amp;</p>') == "<!doctype html><p>&amp;</p>"


def test_trafilatura_failure_falls_back_to_heuristic(monkeypatch):
    import trafilatura

    def broken(*args, **kwargs):
        raise RuntimeError("library bug")

    monkeypatch.setattr(trafilatura, "bare_extraction", broken)
    title, text, method = extract_html_text(ARTICLE, {})
    assert method == "heuristic" and PARAGRAPHS[0] in text and "Health topics" not in text


def test_content_selector_problem_names_the_first_key_outside_the_supported_subset():
    assert content_selector_problem({}) is None
    assert content_selector_problem({"title_selector": "h1.title", "body_selector": "main > div#c, article",
                                     "remove_selectors": ["nav", "[role=banner]", "a[href^='/x']"]}) is None
    problem = content_selector_problem({"body_selector": "main", "remove_selectors": ["nav", "p:first-child"]})
    assert problem.startswith("content.remove_selectors: unsupported CSS selector part 'p:first-child'")
    assert content_selector_problem({"title_selector": "> h1"}).startswith("content.title_selector: misplaced '>'")
