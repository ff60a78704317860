"""HTML extraction: selectors, generic fallback, structure, encodings, real CDC pages and NGC summaries."""
from __future__ import annotations

import json
import re
import zipfile

import pytest

from schemas.document import Document
from schemas.events import Drop
from schemas.raw import RawRecord
from transforms.extract.encoding import decode_bytes, repair_mojibake
from transforms.extract.errors import ExtractError
from transforms.extract.html import css_to_xpath, extract_html, extract_html_text
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
    assert method == "generic"
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
    assert method == "generic" and "# Asthma in adults" in text


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
    assert isinstance(doc, Document) and doc.license == "CC0" and doc.meta_dict()["extractor"] == "generic"
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
    assert doc.meta_dict()["encoding"] == "cp1252"


def test_latin1_label_means_cp1252_and_bom_wins():
    text, enc = decode_bytes('<meta charset="iso-8859-1"><p>\u2019ok</p>'.encode("cp1252"))
    assert "\u2019ok" in text and enc == "cp1252"
    text, enc = decode_bytes(b"\xef\xbb\xbf<p>caf\xc3\xa9</p>")
    assert text == "<p>café</p>" and enc == "utf-8"
    text, enc = decode_bytes("\ufeff<p>Grüße</p>".encode("utf-16-le"))
    assert text == "<p>Grüße</p>" and enc == "utf-16-le"


def test_undeclared_cp1252_pages_are_read_as_cp1252_and_say_so():
    from charset_normalizer import from_bytes

    from tests.guidelines.cp1252_pages import PAGES
    detector_wrong = 0
    for name, page in PAGES:
        raw = page.encode("cp1252")
        assert b"charset" not in raw
        best = from_bytes(raw).best()
        detector_wrong += best.encoding != "cp1252" and raw.decode(best.encoding, "replace") != page
        [doc] = extract_html(_raw(raw), subset="guidelines", options=OPTIONS, rules={})
        meta = doc.meta_dict()
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
    meta = doc.meta_dict()
    assert (meta["encoding"], meta["encoding_origin"]) == expected
    assert text.split(">")[-1] in doc.text


def test_bom_utf8_lossy_and_fallback_origins():
    from transforms.extract.encoding import decode_page
    assert decode_page("\ufeff<p>Grüße</p>".encode("utf-16-le"), "iso-8859-1").origin == "bom"
    clean = decode_page("<p>naïve café</p>".encode("utf-8"), "windows-1250")
    assert (clean.origin, clean.confidence) == ("utf-8", 1.0)  # valid UTF-8 outranks a (wrong) label
    broken = ("<p>" + "Zażółć gęślą jaźń. " * 20 + "</p>").encode("utf-8")
    broken = broken[:40] + b"\xc5" + broken[40:]  # one cut sequence in 160 non-ASCII characters
    lossy = decode_page(broken)
    assert lossy.origin == "utf-8-lossy" and lossy.text.count("\ufffd") == 1 and 0.98 < lossy.confidence < 1
    junk = decode_page(bytes(range(0x80, 0x100)) * 3)
    assert junk.origin in ("detected", "fallback", "latin-default")
    assert junk.meta()["encoding_origin"] == junk.origin


def test_real_pages_decode_without_guessing_or_loss(realdata):
    import gzip

    from transforms.extract.encoding import decode_page
    pages = sorted((realdata / "8-html-extraction").rglob("*.htm*"))
    assert len(pages) > 100
    origins = {}
    for path in pages:
        raw = path.read_bytes()
        raw = gzip.decompress(raw) if path.suffix == ".gz" else raw
        decoded = decode_page(raw)
        origins[decoded.origin] = origins.get(decoded.origin, 0) + 1
        if decoded.origin not in ("utf-8-lossy", "fallback") and "\ufffd".encode() not in raw:
            assert "\ufffd" not in decoded.text, (path.name, decoded.origin)  # nothing replaced silently
    guessed = sum(n for o, n in origins.items() if o in ("latin-default", "detected", "fallback"))
    assert guessed <= len(pages) * 0.02 and origins.get("fallback", 0) == 0, origins


def test_mojibake_repaired_but_real_text_untouched():
    assert repair_mojibake("The patientâ€™s dose â€“ 5 mg; cafÃ©") == "The patient’s dose – 5 mg; café"
    for genuine in ("Ã la carte", "São Paulo", "naïve café", "¿Qué?", "año", "Müller"):
        assert repair_mojibake(genuine) == genuine


# --- real pages ------------------------------------------------------------------------------------

def _cdc_pages(realdata, name):
    path = realdata / "3-guidelines" / "cdc_harvest" / name
    if not path.is_file():
        pytest.skip(f"{path} missing")
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
    assert "# Notas Desde el Campo : Brote de Dengue — Perú, 2023" in doc.text
    assert "El dengue, una enfermedad viral transmitida por mosquitos, es endémico en Perú" in doc.text


def test_cdc_selector_rules(realdata):
    pages = _cdc_pages(realdata, "mmwr_art_es_html_json.zip")
    html = pages["https://www.cdc.gov/mmwr/preview/mmwrhtml/mm5911a1_ensp.htm"]
    rules = {"content": {"title_selector": "h1, title", "body_selector": "#content",
                         "remove_selectors": [".pageOptions-horizontal", "#linkPolicy"]}}
    [doc] = extract_html(_raw(html), subset="guidelines", options=OPTIONS, rules=rules)
    assert doc.meta_dict()["extractor"] == "selector"
    assert len(doc.text.split()) > 3000
    assert "Text size" not in doc.text and "Recommend on Facebook" not in doc.text


NGC_SAMPLE = ["ngc-10540.xml", "ngc-10187.xml", "ngc-9512.xml", "ngc-10746.xml", "ngc-11211.xml"]


@pytest.mark.parametrize("name", NGC_SAMPLE)
def test_ngc_summaries_escaped_html_decoded(realdata, name):
    path = realdata / "3-guidelines" / "ngc_summaries_xml" / name
    [doc] = extract_html(_raw(path.read_bytes(), url=f"https://guideline.gov/{name}"), subset="guidelines",
                         options=OPTIONS, rules={})
    text = doc.text
    assert doc.meta_dict()["extractor"] == "ngc-summary"
    assert "## Major Recommendations" in text.splitlines()
    recs = text.split("## Major Recommendations", 1)[1]
    assert len(recs.split()) > 50
    for escaped in ("&lt;", "&gt;", "&quot;", "&amp;", "<div", "<p>", "content_para", "&nbsp;"):
        assert escaped not in text, escaped
    assert text.startswith("# ") and doc.title and doc.title in text.splitlines()[0]
    assert "Bibliographic Source(s)" not in text  # administrative fields are skipped


def test_ngc_major_recommendations_content(realdata):
    path = realdata / "3-guidelines" / "ngc_summaries_xml" / "ngc-10540.xml"
    [doc] = extract_html(_raw(path.read_bytes()), subset="guidelines", options=OPTIONS, rules={})
    assert doc.title == ("EGFR-TK mutation testing in adults with locally advanced or metastatic "
                         "non-small-cell lung cancer.")
    assert "- therascreen EGFR RGQ PCR Kit (CE-marked)\n- cobas EGFR Mutation Test (CE-marked)" in doc.text


def test_all_ngc_summaries_extract(realdata):
    folder = realdata / "3-guidelines" / "ngc_summaries_xml"
    outcomes = {"doc": 0, "drop": 0}
    for path in sorted(folder.glob("*.xml")):
        for out in extract_html(_raw(path.read_bytes(), url=path.name), subset="guidelines", options=OPTIONS, rules={}):
            outcomes["doc" if isinstance(out, Document) else "drop"] += 1
    assert outcomes["doc"] >= 250


def test_reach_mock_nice_page(realdata):
    path = realdata / "3-guidelines" / "reach_mock_sites" / "nice_wsf-scraper-web_tests_mock_sites_nice_2.html"
    [doc] = extract_html(_raw(path.read_bytes()), subset="guidelines", options=OPTIONS, rules={})
    assert "<" not in doc.text and "cookie" not in doc.text.lower()
