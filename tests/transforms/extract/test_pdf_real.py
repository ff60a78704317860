"""PDF extraction on the real PDFs of ../shared/realdata/6-medical-pdfs (read only; NICE and WHO PDFs
may not be copied: a clone without ../shared has the CDC guide and three CC BY articles in tests/data).
Each PDF is extracted once per session (cached), and compared with poppler's `pdftotext` as an
independent reference: body-text word recall >= 95% per file."""
from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from schemas.raw import RawRecord
from testkit.realdata import need, per_file
from tests.transforms.extract._pdf_recall import reference_body, word_recall
from transforms.extract.options import ExtractOptions
from transforms.extract.pdf import extract_pdf, normalise_glyphs

PDF_DIR = "6-medical-pdfs"
NICE = ["antenatal-care-pdf-66143709695941.pdf",
        "ectopic-pregnancy-and-miscarriage-diagnosis-and-initial-management-pdf-66141662244037.pdf",
        "endometriosis-diagnosis-and-management-pdf-1837632548293.pdf",
        "hypertension-in-pregnancy-diagnosis-and-management-pdf-66141717671365.pdf",
        "intrapartum-care-pdf-66143897812933.pdf",
        "laparoscopic-techniques-for-hysterectomy-pdf-1899865344377797.pdf"]
OTHERS = ["clario_rag/CDC_Outpatient-Guide-508.pdf", "clario_rag/WHO_healthy_diet_Healthy-WHO.pdf",
          "clario_rag/WHO_RHIS_general-principles-2021-01-21-final.pdf",
          "cermine_articles/cermine-impl_test1.pdf", "cermine_articles/cermine-impl_test2.pdf",
          "cermine_articles/cermine-impl_test3.pdf", "cermine_articles/cermine-web_example1.pdf",
          "cermine_articles/cermine-web_example2.pdf",
          "meditron/MEDITRON__Scaling_Up_Medical_Pretraining_for_Large_Language_Models.pdf"]
ALL = [f"nice_guidelines_clerky/{name}" for name in NICE] + OTHERS


@functools.lru_cache(maxsize=None)
def extracted(path: str):
    content = Path(path).read_bytes()
    raw = RawRecord.make(source="pdfs", url=f"file://{path}", fetched_at="2024-01-01T00:00:00Z",
                         content_type="pdf", content=content)
    [doc] = extract_pdf(raw, subset="guidelines", options=ExtractOptions(), rules={})
    return doc


@pytest.fixture(scope="module")
def pdf(realdata):
    def get(relative: str):
        return extracted(str(need(realdata, f"{PDF_DIR}/{relative}")))
    return get


@pytest.mark.parametrize("name", per_file(f"{PDF_DIR}/nice_guidelines_clerky", NICE))
def test_nice_footer_removed_and_recommendations_kept(pdf, name):
    text = pdf(f"nice_guidelines_clerky/{name}").text
    assert not re.search(r"©\s*NICE\s*\d{4}", text), "the '© NICE yyyy ... Notice of rights' footer survived"
    assert not re.search(r"Page \d+ of\s*\d+", text)
    assert "Notice of rights" not in text
    # Numbered recommendations: each at the start of its own paragraph, number then words.
    numbered = re.findall(r"^(\d+\.\d+(?:\.\d+)?) [A-Z]", text, re.MULTILINE)
    assert len(numbered) >= 5, numbered


def test_nice_recommendation_text_is_whole(pdf):
    text = pdf("nice_guidelines_clerky/endometriosis-diagnosis-and-management-pdf-1837632548293.pdf").text
    assert ("1.1.1 Set up a managed clinical network for women with suspected or confirmed endometriosis, "
            "consisting of community services") in text
    assert "1.3.3 Offer an abdominal and pelvic examination to women with suspected endometriosis" in text
    assert "- chronic pelvic pain\n- period-related pain" in text
    assert "## 1.1 Organisation of care" in text.splitlines()
    assert "....." not in text  # table-of-contents leaders


def test_nice_hyphenated_line_ends_joined(pdf):
    text = pdf("nice_guidelines_clerky/hypertension-in-pregnancy-diagnosis-and-management-pdf-66141717671365.pdf").text
    assert "pre-eclampsia" in text  # a compound broken at its hyphen keeps it...
    assert "preeclampsia" not in text
    assert "urinary reagent-strip test" in text or "urinary reagent strip test" in text
    assert not re.search(r"\b(?:pre|reagent)- [a-z]", text)  # ...and is not left split in two


def _assert_clean_cover(text: str) -> None:
    head = text[:1500]
    assert "(cid:" not in head
    assert not re.search(r"^\S{1,2}$", head, re.MULTILINE), "single-glyph junk line on the cover"


def test_cover_pages_do_not_yield_junk(pdf):
    diet = pdf("clario_rag/WHO_healthy_diet_Healthy-WHO.pdf").text
    assert diet.startswith("# Healthy diet\n\n"), diet[:200]
    assert diet.splitlines().count("# Healthy diet") == 1  # the inner title page repeats the cover
    rhis = pdf("clario_rag/WHO_RHIS_general-principles-2021-01-21-final.pdf").text
    first_blocks = rhis.split("\n\n")[:4]
    assert "# General principles" in first_blocks
    assert rhis.splitlines().count("# General principles") == 1
    for text in (diet, rhis):
        _assert_clean_cover(text)


def test_cdc_cover_page_gives_title_not_junk(pdf):
    cdc = pdf("clario_rag/CDC_Outpatient-Guide-508.pdf")
    assert cdc.text.startswith("# GUIDE TO INFECTION PREVENTION FOR OUTPATIENT SETTINGS")
    assert cdc.title.startswith("Guide to Infection Prevention")
    _assert_clean_cover(cdc.text)


def test_two_column_article_reads_in_column_order(pdf):
    text = pdf("cermine_articles/cermine-impl_test2.pdf").text
    # Left column before right column, section after section.
    assert text.index("## 1. Introduction") < text.index("## 2. Methods") < text.index("## 3. Results")
    intro = text[text.index("## 1. Introduction"):text.index("## 2. Methods")]
    assert "silent epidemic in industrialised nations" in intro
    assert "Heart failure presents a diagnostic and management challenge" in intro


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils (pdftotext) not installed")
@pytest.mark.parametrize("relative", per_file(PDF_DIR, ALL))
def test_word_recall_against_pdftotext(pdf, realdata, relative, record_property):
    doc = pdf(relative)
    reference = subprocess.run(["pdftotext", "-enc", "UTF-8", str(realdata / PDF_DIR / relative), "-"],
                               capture_output=True, text=True, timeout=120, check=True).stdout
    recall = word_recall(doc.text, reference_body(normalise_glyphs(reference)))
    record_property("word_recall", round(recall, 4))
    print(f"\n{relative}: body-text word recall vs pdftotext = {recall:.3f}")
    assert recall >= 0.95, f"{relative}: recall {recall:.3f} < 0.95"
