"""PDF extraction on small synthetic PDFs: layout rules and every failure mode, checked exactly."""
from __future__ import annotations

import pytest

from schemas.document import Document
from schemas.raw import RawRecord
from tests.transforms.extract._pdfmaker import PageSpec, Run, make_pdf, paragraph_runs
from transforms.extract import extract_record
from transforms.extract.errors import ExtractError
from transforms.extract.options import ExtractOptions
from transforms.extract.pdf import extract_pdf, is_number_debris, join_lines, normalise_glyphs

OPTIONS = ExtractOptions()


def _raw(content: bytes, url: str = "https://example.org/doc.pdf") -> RawRecord:
    return RawRecord.make(source="testsrc", url=url, fetched_at="2024-01-01T00:00:00Z", content_type="pdf",
                          content=content, license="CC-BY-4.0")


def _text(pages: list[PageSpec], options: ExtractOptions = OPTIONS) -> str:
    [doc] = extract_pdf(_raw(make_pdf(pages)), subset="guidelines", options=options, rules={})
    assert isinstance(doc, Document)
    return doc.text


PROSE = ["Clinicians should offer a structured assessment to every adult presenting",
         "with chest pain and record the findings in the notes before any treatment",
         "decision is made, including the time of onset and associated symptoms."]


def _page_with_furniture(n: int, body: list[str]) -> PageSpec:
    runs = [Run(72, 760, "Chest pain guideline (CG95)", 8)]
    runs += paragraph_runs(72, 700, body)
    runs.append(Run(72, 40, f"(c) Example Institute 2024. All rights reserved. Page {n} of 5", 8))
    runs.append(Run(500, 40, str(n), 8))
    return PageSpec(runs)


def test_running_headers_footers_and_page_numbers_are_removed():
    pages = [_page_with_furniture(n, [f"Section {n} says: " + PROSE[0]] + PROSE[1:]) for n in range(1, 6)]
    text = _text(pages)
    assert "Chest pain guideline" not in text
    assert "All rights reserved" not in text
    assert "Page 3 of 5" not in text
    assert text.count("Clinicians should offer") == 5
    assert "Section 4 says" in text


def test_furniture_kept_when_too_few_pages_to_judge():
    pages = [_page_with_furniture(n, PROSE) for n in range(1, 3)]
    assert "Chest pain guideline" in _text(pages)


def test_two_column_page_reads_left_column_first():
    left = [f"Left column sentence number {i} continues the argument about care." for i in range(12)]
    right = [f"Right column sentence number {i} continues the argument further." for i in range(12)]
    runs = [Run(72, 740, "A Wide Title Spanning Both Columns Of The Page", 16)]
    runs += paragraph_runs(50, 700, left, size=9, leading=11)
    runs += paragraph_runs(320, 700, right, size=9, leading=11)
    text = _text([PageSpec(runs)])
    assert text.index("Left column sentence number 11") < text.index("Right column sentence number 0")
    assert text.index("# A Wide Title") < text.index("Left column sentence number 0")
    # a column's lines form one paragraph, in order
    assert text.index("number 3 continues") < text.index("number 4 continues")


def test_hyphenation_joined_and_ligatures_spelled_out():
    runs = paragraph_runs(72, 700, ["The patient received anticoagu-", "lation and the \ufb01rst dose was",
                                    "given in the of\ufb01ce of the well-", "known clinic, a well-known place."])
    text = _text([PageSpec(runs)])
    assert "anticoagulation" in text and "anticoagu-" not in text
    assert "the well-known clinic" in text  # the document spells it with a hyphen elsewhere
    assert "first dose" in text and "office" in text
    assert "\ufb01" not in text


def test_headings_from_font_size():
    runs = [Run(72, 740, "Management of Hypertension", 20), Run(72, 700, "Blood pressure targets", 14)]
    runs += paragraph_runs(72, 670, PROSE * 3)
    text = _text([PageSpec(runs)])
    assert "# Management of Hypertension" in text.splitlines()
    assert "## Blood pressure targets" in text.splitlines()
    assert not any(line.startswith("#") and "Clinicians" in line for line in text.splitlines())


def test_number_only_table_debris_dropped_but_recommendation_numbers_kept():
    runs = paragraph_runs(72, 700, PROSE)
    runs += [Run(72, 600, "12.5   13.1   (4.2)   45%", 10), Run(72, 560, "1.2.3", 10)]
    runs += paragraph_runs(120, 560, ["Offer aspirin to women at high risk of pre-eclampsia."])
    text = _text([PageSpec(runs)])
    assert "12.5" not in text and "45%" not in text
    assert "1.2.3 Offer aspirin" in text


def test_bulleted_lines_become_list_items():
    assert join_lines(["\u2022 first item", "continues here", "\u25aa second item"]) == \
        ["- first item continues here", "- second item"]


def test_number_debris_rule():
    assert is_number_debris("12.5 13.1 (4.2) 45%")
    assert not is_number_debris("1.1.1")
    assert not is_number_debris("12 patients")


def test_glyph_normalisation():
    assert normalise_glyphs("e\ufb03cacy (cid:12)of\u00adten") == "efficacy often"


def test_encrypted_pdf_is_refused():
    content = make_pdf([PageSpec(paragraph_runs(72, 700, PROSE))], encrypted=True)
    with pytest.raises(ExtractError, match="encrypted"):
        extract_pdf(_raw(content), subset="guidelines", options=OPTIONS, rules={})


def test_image_only_pdf_is_refused():
    drawing = "0.5 g 72 72 468 648 re f 0 g 100 100 m 500 700 l S"
    content = make_pdf([PageSpec(drawing=drawing), PageSpec(drawing=drawing)])
    with pytest.raises(ExtractError, match="image-only"):
        extract_pdf(_raw(content), subset="guidelines", options=OPTIONS, rules={})


@pytest.mark.parametrize("content", [
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF",   # no pages, no xref
    b"%PDF-1.7\n" + b"\x00\xff" * 500,                                       # garbage after the header
])
def test_corrupt_pdf_is_refused(content):
    with pytest.raises(ExtractError, match="corrupt"):
        extract_pdf(_raw(content), subset="guidelines", options=OPTIONS, rules={})


def test_not_a_pdf_is_refused():
    with pytest.raises(ExtractError, match="not a PDF"):
        extract_pdf(_raw(b"<html>oops</html>"), subset="guidelines", options=OPTIONS, rules={})


def test_truncated_pdf_is_refused_or_partial_not_crash():
    full = make_pdf([PageSpec(paragraph_runs(72, 700, PROSE))] * 3)
    try:
        extract_pdf(_raw(full[: len(full) // 2]), subset="guidelines", options=OPTIONS, rules={})
    except ExtractError:
        pass  # refusing is fine; any other exception type is a bug


def test_page_limit():
    content = make_pdf([PageSpec(paragraph_runs(72, 700, PROSE))] * 4)
    with pytest.raises(ExtractError, match="pdf_max_pages=3"):
        extract_pdf(_raw(content), subset="guidelines", options=ExtractOptions(pdf_max_pages=3), rules={})


def test_time_limit():
    content = make_pdf([PageSpec(paragraph_runs(72, 700, PROSE))] * 2)
    with pytest.raises(ExtractError, match="pdf_timeout_s"):
        extract_pdf(_raw(content), subset="guidelines", options=ExtractOptions(pdf_timeout_s=0), rules={})


def test_dispatch_and_deterministic_output():
    content = make_pdf([_page_with_furniture(n, PROSE) for n in range(1, 4)])
    first = extract_record(_raw(content), subset="guidelines", options=OPTIONS, rules={})
    second = extract_record(_raw(content), subset="guidelines", options=OPTIONS, rules={})
    assert first == second
    doc = first[0]
    assert doc.meta["pages"] == 3 and doc.meta["extractor"] == "pdfminer"
    assert doc.license == "CC-BY-4.0" and doc.subset == "guidelines"


def test_a_sparse_page_after_the_body_has_begun_keeps_its_one_word_heading():
    # Cover junk (logo letters, a code) is dropped only on the leading sparse pages; once a page of body
    # text has come, a short page keeps its one-word heading.
    cover = PageSpec([Run(72, 700, "Guideline on the care of adults with chest pain", 20), Run(72, 100, "CG", 9),
                      Run(300, 100, "95", 9)])
    body = PageSpec(paragraph_runs(72, 700, PROSE * 6))
    short = PageSpec([Run(72, 720, "Introduction", 16)] +
                     paragraph_runs(72, 690, ["This short page sets out who the guideline is for."]))
    text = _text([cover, body, short])
    assert "## Introduction" in text.splitlines(), text  # a heading below the 20 pt title: level 2
    assert "This short page sets out who the guideline is for." in text
    assert "\nCG\n" not in f"\n{text}\n" and "# Guideline on the care of adults with chest pain" in text


@pytest.mark.parametrize("gap", [16, 20, 26])
def test_a_heading_set_close_to_the_paragraphs_around_it_stays_a_heading(gap):
    # pdfminer groups a heading only a little below a paragraph into the paragraph's box; the box is split
    # where the font size changes, so the heading and the margin-numbered recommendation stay apart.
    runs = paragraph_runs(72, 700, PROSE)
    y = 700 - 2 * 12 - gap
    runs += [Run(72, y, "Assessment and referral", 14), Run(40, y - 18, "1.2.1", 10)]
    runs += paragraph_runs(72, y - 18, ["Offer an ECG to every adult with suspected acute chest pain and",
                                        "review it within ten minutes of arrival."])
    assert _text([PageSpec(runs)]).split("\n\n") == [
        " ".join(PROSE), "# Assessment and referral",
        "1.2.1 Offer an ECG to every adult with suspected acute chest pain and review it within ten minutes of arrival."]


def test_size_wobble_inside_a_paragraph_does_not_split_it():
    # One paragraph whose first line measures 9.5 pt and the rest 11 pt (as in a WHO report, where a bullet
    # glyph decides the first line's size): not a heading run (long, ends mid-sentence), so it stays whole.
    runs = [Run(72, 700, "quality problems: surveys vary in their adherence to sampling and interview protocols", 9.5),
            Run(72, 687, "and other standards; all surveys contain sampling errors, which increase at subnational", 11),
            Run(72, 674, "levels because of small sample sizes, and other errors may also occur in the field.", 11)]
    paragraphs = [p for p in _text([PageSpec(runs + paragraph_runs(72, 600, PROSE * 3))]).split("\n\n")]
    assert paragraphs[0].startswith("quality problems: surveys vary") and paragraphs[0].endswith("in the field."), paragraphs


def test_a_heading_set_on_two_widely_spaced_lines_is_one_heading():
    # Wide leading makes pdfminer put each line of a heading in a box of its own; the second line continues
    # the first when it starts lower-case or the first ends on a word a heading cannot end on.
    runs = [Run(72, 740, "Salt, sodium and", 16), Run(72, 712, "potassium", 16),
            Run(72, 670, "Assessment of women with", 14), Run(72, 646, "suspected endometriosis", 14)]
    runs += paragraph_runs(72, 610, PROSE * 2)
    blocks = _text([PageSpec(runs)]).split("\n\n")
    assert blocks[:2] == ["# Salt, sodium and potassium", "## Assessment of women with suspected endometriosis"]


def test_a_heading_broken_by_a_page_break_is_one_heading_and_two_headings_stay_two():
    first = PageSpec([Run(72, 740, "NICE guideline", 16), Run(72, 712, "Published: 19 August 2021", 16)]
                     + paragraph_runs(72, 670, PROSE * 3) + [Run(72, 120, "1.7 Monitoring for women with confirmed", 16)])
    second = PageSpec([Run(72, 740, "endometriosis", 16)] + paragraph_runs(72, 700, PROSE * 3))
    blocks = _text([first, second]).split("\n\n")
    assert blocks[:2] == ["# NICE guideline", "# Published: 19 August 2021"]
    assert "# 1.7 Monitoring for women with confirmed endometriosis" in blocks
