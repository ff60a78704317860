"""NICE-layout behaviours checked in tests/transforms/extract/test_pdf_real.py on NICE PDFs (all rights reserved, not
bundled), here on tests/data/authored/pdf/nice_layout_authored.pdf: invented text laid out as NICE lays out its
guidelines (tests/data/authored/make_authored.py), so a clone without ../shared tests them too."""
from __future__ import annotations

import functools
import re
import shutil
import subprocess

import pytest

from schemas.document import Document
from schemas.raw import RawRecord
from testkit.authored import NICE_PDF
from tests.transforms.extract._pdf_recall import reference_body, word_recall
from transforms.extract import pdf_guard
from transforms.extract.options import ExtractOptions
from transforms.extract.pdf import extract_pdf, normalise_glyphs


@functools.lru_cache(maxsize=None)
def _doc():
    raw = RawRecord.make(source="pdfs", url=NICE_PDF.as_uri(), fetched_at="2024-01-01T00:00:00Z",
                         content_type="pdf", content=NICE_PDF.read_bytes())
    [doc] = extract_pdf(raw, subset="guidelines", options=ExtractOptions(), rules={})
    return doc


def test_fixture_has_the_furniture_the_tests_expect_removed():
    content = NICE_PDF.read_bytes()  # uncompressed content streams: the footer is really on the pages
    assert content.count(b"All rights reserved. Subject to Notice of rights") == 5
    assert content.count(b"Page 3 of") == 1 and b"....." in content


def test_nice_footer_removed_and_recommendations_kept():
    text = _doc().text
    assert not re.search(r"©\s*NICE\s*\d{4}", text), "the '© NICE yyyy ... Notice of rights' footer survived"
    assert not re.search(r"Page \d+ of\s*\d+", text)
    assert "Notice of rights" not in text and "(NG999)" not in text
    numbered = re.findall(r"^(\d+\.\d+(?:\.\d+)?) [A-Z]", text, re.MULTILINE)
    assert numbered == ["1.1.1", "1.1.2", "1.1.3", "1.2.1", "1.2.2", "1.3.1", "1.3.2", "1.3.3", "1.3.4",
                        "1.4.1", "1.4.2", "1.4.3"]


def test_nice_recommendation_text_is_whole():
    text = _doc().text
    assert ("1.1.1 Set up a managed clinical network for people with suspected or confirmed invented joint "
            "condition, consisting of community services") in text
    assert "1.3.3 Do not offer routine imaging to people whose symptoms have lasted less than six weeks" in text
    assert ("- morning stiffness lasting more than an hour\n- swelling of two or more joints\n"
            "- pain that wakes the person at night") in text
    lines = text.split("\n")
    assert "## 1.1 Organisation of care" in lines and "## 1.4 Management" in lines
    assert "....." not in text  # table-of-contents leaders
    assert "Contents" not in lines


def test_nice_hyphenated_line_ends_joined():
    text = _doc().text
    assert "history of pre-eclampsia is linked" in text  # a compound broken at its hyphen keeps it...
    assert "preeclampsia" not in text
    assert "a negative reagent-strip test" in text
    assert not re.search(r"\b(?:pre|reagent)- [a-z]", text)  # ...and is not left split in two
    assert "level of anticoagulation, and" in text  # a typographic hyphen is removed


def test_cover_page_gives_title_not_junk():
    doc = _doc()
    assert doc.title == "Invented joint condition: diagnosis and management"
    assert doc.text.startswith("# Invented joint condition: diagnosis and management\n\n")
    head = doc.text[:1500]
    assert "(cid:" not in head
    assert not re.search(r"^\S{1,2}$", head, re.MULTILINE), "single-glyph junk line on the cover"


def test_cover_repeated_on_inner_title_page_gives_title_once():
    """As test_pdf_real.test_cover_pages_do_not_yield_junk (WHO reports, CC BY-NC-SA): the inner title page
    repeats the cover, and the cover's stray letters are not text."""
    path = NICE_PDF.parent / "report_cover_repeated.pdf"
    raw = RawRecord.make(source="pdfs", url=path.as_uri(), fetched_at="2024-01-01T00:00:00Z", content_type="pdf",
                         content=path.read_bytes())
    [doc] = extract_pdf(raw, subset="guidelines", options=ExtractOptions(), rules={})
    assert doc.text.startswith("# Healthy eating in invented communities\n\n"), doc.text[:200]
    assert doc.text.split("\n").count("# Healthy eating in invented communities") == 1
    assert doc.text.count("A report written for a test suite") == 1
    head = doc.text[:1500]
    assert "(cid:" not in head
    assert not re.search(r"^\S{1,2}$", head, re.MULTILINE), "single-glyph junk line on the cover"
    assert [line for line in doc.text.split("\n") if line.startswith("## ")] == [
        "## A report written for a test suite", "## Introduction", "## What changed", "## Recommendations"]
    assert "Invented Health Organization report series" not in doc.text  # running footer


@pytest.mark.parametrize("name", ["nice_layout_authored.pdf", "report_cover_repeated.pdf"])
def test_isolated_extraction_is_byte_identical(name):
    """As test_pdf_limits.test_isolated_extraction_is_byte_identical_on_real_pdfs, on the authored PDFs: the
    default isolated ("process") extraction and the inline one give the same document, byte for byte."""
    path = NICE_PDF.parent / name
    raw = RawRecord.make(source="pdfs", url=path.as_uri(), fetched_at="2024-01-01T00:00:00Z", content_type="pdf",
                         content=path.read_bytes())
    assert pdf_guard.isolation_mode(ExtractOptions()) == "process"
    [isolated] = extract_pdf(raw, subset="guidelines", options=ExtractOptions(), rules={}, isolation="process")
    [inline] = extract_pdf(raw, subset="guidelines", options=ExtractOptions(), rules={}, isolation="inline")
    assert isinstance(isolated, Document) and len(isolated.text) > 500
    assert isolated.text.encode() == inline.text.encode()
    assert isolated == inline


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) not installed")
def test_word_recall_against_pdftotext():
    """As test_pdf_real.test_word_recall_against_pdftotext (on the NICE-layout PDF; the cover fixture repeats
    its pages by design, which the reference's running-line filter would empty): recall >= 95% vs poppler."""
    path = NICE_PDF
    raw = RawRecord.make(source="pdfs", url=path.as_uri(), fetched_at="2024-01-01T00:00:00Z", content_type="pdf",
                         content=path.read_bytes())
    [doc] = extract_pdf(raw, subset="guidelines", options=ExtractOptions(), rules={})
    reference = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, text=True,
                               timeout=120, check=True).stdout
    body = reference_body(normalise_glyphs(reference))
    assert len(body.split()) > 150
    assert word_recall(doc.text, body) >= 0.95
