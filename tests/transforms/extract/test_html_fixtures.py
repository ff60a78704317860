"""NGC summary behaviours checked in tests/transforms/extract/test_html.py on summaries with no stated licence
(tests/data/NOT_BUNDLED.tsv), here on tests/data/authored/ngc: invented summaries in the same XML structure
(<Version><Section><Field Name=...><FieldValue Value="escaped HTML"/>), so a clone without ../shared tests them."""
from __future__ import annotations

import pytest

from schemas.document import Document
from schemas.raw import RawRecord
from testkit.authored import HTML_DIR, NGC_DIR
from transforms.extract.errors import ExtractError
from transforms.extract.html import extract_html, is_ngc_summary
from transforms.extract.options import ExtractOptions

OPTIONS = ExtractOptions()
NGC_FILES = sorted(p.name for p in NGC_DIR.glob("*.xml"))


def _raw(content: bytes, url: str = "https://guideline.gov/summary.xml") -> RawRecord:
    return RawRecord.make(source="site", url=url, fetched_at="2024-01-01T00:00:00Z", content_type="html",
                          content=content)


def test_there_are_authored_summaries():
    assert len(NGC_FILES) >= 2


@pytest.mark.parametrize("name", NGC_FILES)
def test_ngc_summaries_escaped_html_decoded(name):
    content = (NGC_DIR / name).read_bytes()
    assert is_ngc_summary(content)
    [doc] = extract_html(_raw(content, f"https://guideline.gov/{name}"), subset="guidelines", options=OPTIONS,
                         rules={})
    text = doc.text
    assert doc.meta["extractor"] == "ngc-summary"
    assert "## Major Recommendations" in text.split("\n")
    recs = text.split("## Major Recommendations", 1)[1]
    assert len(recs.split()) > 50
    for escaped in ("&lt;", "&gt;", "&quot;", "&amp;", "<div", "<p>", "content_para", "&nbsp;"):
        assert escaped not in text, escaped
    assert text.startswith("# ") and doc.title and doc.title in text.split("\n")[0]
    # administrative fields are skipped, including the disclaimer every summary repeats
    for field in ("Bibliographic Source(s)", "Guideline Status", "Copyright Statement", "NGC Status",
                  "NGC Disclaimer", "Guideline Category"):
        assert f"## {field}" not in text, field
    assert "Invented Press" not in text and "software tests only" not in text


def test_ngc_major_recommendations_content():
    [doc] = extract_html(_raw((NGC_DIR / "ngc-authored-1.xml").read_bytes()), subset="guidelines",
                         options=OPTIONS, rules={})
    assert doc.title == ("Management of uncomplicated lower urinary tract infection in non-pregnant adult "
                         "women.")
    # escaped HTML entities become characters, list items become "- " lines
    assert ("- nitrofurantoin for 5 days (avoid if eGFR < 30 mL/min)\n- fosfomycin as a single dose\n"
            "- pivmecillinam for 3 days") in doc.text
    assert "wait & see" in doc.text
    assert "Grade | Meaning\nA | Consistent evidence from randomised trials" in doc.text  # tables linearised
    [iron] = extract_html(_raw((NGC_DIR / "ngc-authored-2.xml").read_bytes()), subset="guidelines",
                          options=OPTIONS, rules={})
    assert "below 30 µg/L" in iron.text and "before planned surgery." in iron.text


def test_all_ngc_summaries_extract():
    outcomes = {"doc": 0, "drop": 0}
    for path in sorted(NGC_DIR.glob("*.xml")):
        for out in extract_html(_raw(path.read_bytes(), path.name), subset="guidelines", options=OPTIONS, rules={}):
            outcomes["doc" if isinstance(out, Document) else "drop"] += 1
    assert outcomes == {"doc": len(NGC_FILES), "drop": 0}


def test_malformed_ngc_summary_is_a_clear_error():
    content = (NGC_DIR / "ngc-authored-1.xml").read_bytes()
    truncated = content[: len(content) // 2]
    with pytest.raises(ExtractError, match="malformed NGC summary XML"):
        extract_html(_raw(truncated), subset="guidelines", options=OPTIONS, rules={})


def test_guideline_page_with_cookie_banner_gives_only_the_guideline():
    """As test_html.test_reach_mock_nice_page (a saved nice.org.uk page: third-party, not bundled), on an invented
    page with the same kinds of chrome: no markup and nothing of the cookie banner, navigation or footer."""
    content = (HTML_DIR / "guideline_page_with_cookie_banner.html").read_bytes()
    [doc] = extract_html(_raw(content, "https://www.example.org/guidance/ng999"), subset="guidelines",
                         options=OPTIONS, rules={})
    text = doc.text
    assert "<" not in text and "cookie" not in text.lower()
    for chrome in ("Accept all", "Search the site", "Standards and indicators", "Is this page useful",
                   "Privacy notice", "All rights reserved", "dataLayer", "Home"):
        assert chrome not in text, chrome
    assert text.startswith("# Invented joint condition: diagnosis and management")
    assert "\n1.1.1 Set up a managed clinical network" in text and "\n1.2.2 Offer a joint examination" in text
    assert "- morning stiffness lasting more than an hour\n- swelling of two or more joints" in text
    assert text.split("\n").count("## 1.1 Organisation of care") == 1  # the in-page menu is not kept
