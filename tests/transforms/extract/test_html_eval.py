"""The generic (no-selector) HTML extractor of transforms/extract/html.py measured against trafilatura on
two sets with ground truth (testkit/html_eval.py): the 120 real guideline pages (116 in a clone
without ../shared) and trafilatura's own snippet set. Target: precision and recall at least trafilatura's
on both (a little slack for drift)."""
from __future__ import annotations

import logging

import pytest

from testkit.realdata import need
from testkit.html_eval import (TRAFILATURA_SET, SnippetPage, evaluate, evaluate_snippets, load_pages,
                                        load_snippet_pages, ours_text, precision_recall_f1, snippet_counts, snippet_split,
                                        trafilatura_text)

SLACK = 0.005
# Measured when the decision was made (html_eval.py, 120 pages): ours mean F1 0.746, precision 0.967.
# Without ../shared the 116 CDC pages of tests/data remain (the 4 NICE/WHO pages are not ours to copy):
# measured there ours F1 0.742, precision 0.966 (trafilatura 0.738, 0.966), so the same floor holds.
ALL_PAGES_F1_FLOOR = 0.746 - 0.03


@pytest.fixture(autouse=True, scope="module")
def _quiet_trafilatura():
    logging.getLogger("trafilatura").setLevel(logging.CRITICAL)


@pytest.fixture(scope="module")
def pages(realdata):
    found = load_pages(realdata)
    if not found:
        pytest.skip("no evaluation pages under realdata/3-guidelines")
    return found


@pytest.fixture(scope="module")
def snippet_pages(realdata):
    need(realdata, f"{TRAFILATURA_SET.as_posix()}/evaldata.json")
    return load_snippet_pages(realdata)


def test_bag_of_words_scores():
    assert precision_recall_f1("a b c", "a b c") == (1.0, 1.0, 1.0)
    p, r, f = precision_recall_f1("# Heading\n\n- a b | nav", "heading a b c")
    assert (p, r) == (3 / 4, 3 / 4) and f == pytest.approx(0.75)
    assert precision_recall_f1("", "a") == (0.0, 0.0, 0.0)


def test_snippet_scores():
    page = SnippetPage("dev", "x.html", "https://x", b"", ("Main text here", "Cafe\u0301 au lait"),
                       ("Cookie notice", "Share this"))
    # whitespace, soft hyphens and Unicode composition do not decide; missing and leaked snippets count
    assert snippet_counts("# Main\ntext here\n\nCaf\u00e9 au\u00ad lait\n\nShare this", page) == (2, 0, 1, 1)
    assert snippet_counts("Main text\n\nCafe au lait", page) == (0, 2, 0, 2)
    assert snippet_counts("Main text here. Café au lait.", page) == (2, 0, 0, 2)
    assert snippet_counts("", page) == (0, 2, 0, 2)
    scores = evaluate_snippets([page, page], "fixed", lambda content, url: "Main text here Cookie notice")
    assert (scores.tp, scores.fn, scores.fp, scores.tn) == (2, 2, 2, 2)
    assert (scores.precision, scores.recall) == (0.5, 0.5)
    assert {snippet_split(f"p{i}.html") for i in range(20)} == {"dev", "held-out"}
    assert snippet_split("p1.html") == snippet_split("p1.html")


def test_references_are_main_content_only(pages):
    by_url = {p.url: p.reference for p in pages}
    dengue = by_url["https://www.cdc.gov/mmwr/volumes/73/wr/mm7304a4_ensp.htm"]
    assert "El dengue, una enfermedad viral transmitida por mosquitos" in dengue
    for page in pages:
        for chrome in ("Skip directly to", "Persons using assistive technology", "On This Page"):
            assert chrome not in page.reference, (page.url, chrome)


def test_at_least_trafilatura_on_guideline_pages(pages):
    ours = evaluate(pages, "ours", ours_text)
    other = evaluate(pages, "trafilatura", trafilatura_text)
    assert ours.precision >= other.precision - SLACK, (ours.precision, other.precision)
    assert ours.recall >= other.recall - SLACK, (ours.recall, other.recall)
    assert ours.f1 >= ALL_PAGES_F1_FLOOR, ours.f1
    assert ours.precision >= 0.95, ours.precision  # what it keeps is main content


def test_at_least_trafilatura_on_held_out_snippets(snippet_pages):
    """The held-out half (never looked at while developing), every second page to keep the test short."""
    held_out = [p for p in snippet_pages if p.split == "held-out"][::2]
    ours = evaluate_snippets(held_out, "ours", ours_text)
    other = evaluate_snippets(held_out, "trafilatura", trafilatura_text)
    assert ours.precision >= other.precision - SLACK, (ours.precision, other.precision)
    assert ours.recall >= other.recall - SLACK, (ours.recall, other.recall)
    assert ours.f1 > 0.9, ours.f1
