"""Cleaning (incl. MEDITRON's two bugs, proven absent) and statistical boilerplate (transforms/clean.py)."""
from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from schemas.document import Document
from schemas.events import Drop
from tests.transforms._helpers import _doc
from transforms.clean import (boilerplate_fn, boilerplate_table, clean_document, clean_text, document_line_keys,
                              normalise_bullets, remove_citations)

# --- MEDITRON's bugs, proven absent -------------------------------------------------------------

def test_words_starting_with_o_are_not_bullets():
    text = "one dose is enough\noften repeated\no Provide a second dose\nonly once"
    assert normalise_bullets(text) == "one dose is enough\noften repeated\n- Provide a second dose\nonly once"
    assert "-ne" not in clean_text(text) and "one dose is enough" in clean_text(text)


def test_only_numeric_citation_brackets_are_removed():
    text = ("Refer to specialist services [endometriosis centres] recommended by ACIP (Advisory Committee) "
            "as shown before [1, 3-5]. Use 0.5 mg/kg [maximum 20 mg] (see below) daily (12).")
    cleaned = clean_text(text)
    assert "[endometriosis centres]" in cleaned and "(Advisory Committee)" in cleaned
    assert "[maximum 20 mg]" in cleaned and "(see below)" in cleaned
    assert "[1, 3-5]" not in cleaned and "(12)" not in cleaned
    assert cleaned.endswith("as shown before. Use 0.5 mg/kg [maximum 20 mg] (see below) daily.")


def test_enumerations_in_parentheses_survive():
    text = "The priorities are (1) identify groups, (2) vaccinate them and (3) monitor."
    assert remove_citations(text) == text


def test_urls_figure_residue_unicode_whitespace():
    text = ("See the guidance at https://www.cdc.gov/flu/index.html (www.cdc.gov) for details   (see Figure 2).\n"
            "Figure 3\nTable 1. Doses by age group\n\n\n\nE\ufb03cacy was high\u00a0 and con\u00adsistent.  \n"
            "Cafe\u0301 au lait.")
    cleaned = clean_text(text)
    assert cleaned == ("See the guidance at for details.\nTable 1. Doses by age group\n\n"
                       "Efficacy was high and consistent.\nCafé au lait.")


def test_source_rules_starters_stoppers_removers():
    text = "Home > Guidelines\nPrint this page\n# Recommendations\nOffer X.\nPage last reviewed: 2020\n# References\n1. Smith"
    rules = {"cleaning": {"starters": ["^# Recommendations"], "stoppers": ["^# References"],
                          "removers": [r"^Page last reviewed:.*$"]}}
    assert clean_text(text, rules) == "# Recommendations\nOffer X."


def test_clean_document_drops_with_reasons():
    drop = clean_document(_doc("https://only.a/url"), {})
    assert isinstance(drop, Drop) and drop.reason == "empty_after_clean" and drop.stage == "clean"
    drop = clean_document(_doc("Too short."), {"min_length": 50})
    assert isinstance(drop, Drop) and drop.reason == "too_short_after_clean"
    kept = clean_document(_doc("Fine text [1]."), {"min_length": 5})
    assert isinstance(kept, Document) and kept.text == "Fine text."


def test_bad_rule_regex_is_a_clear_error():
    with pytest.raises(ValueError, match="cleaning.removers"):
        clean_text("x", {"removers": ["(unclosed"]})


# --- statistical boilerplate ----------------------------------------------------------------------

BOILER = "Page last reviewed: September 2023 by CDC"


def _corpus():
    docs = []
    for n in range(10):
        body = f"# Report {n}\n\nFinding number {n} about influenza in region {n}.\n\n{BOILER}"
        docs.append(_doc(body, "cdc", n))
    docs += [_doc(f"# Other {n}\n\nOther source text {n}.\n\n{BOILER}", "nice", n) for n in range(3)]
    docs.append(_doc(BOILER, "cdc", 99))  # nothing else: dropped once the boilerplate goes
    return docs


def _boilerplate_stage(p, docs, min_docs, min_fraction):
    """The build's boilerplate stage on in-memory documents: per-source document and line counts (as the
    filter phase's LineKeys pass makes them) -> `boilerplate_table` -> `boilerplate_fn` on each document."""
    created = p | beam.Create(docs)
    per_source = (created | "Sources" >> beam.Map(lambda d: (d.source, 1))
                  | "CountDocs" >> beam.CombinePerKey(sum))
    lines = (created | "Lines" >> beam.FlatMap(lambda d: [((d.source, k), 1) for k in document_line_keys(d.text)])
             | "CountLines" >> beam.CombinePerKey(sum))
    table = boilerplate_table(per_source, lines, min_docs, min_fraction)
    outcomes = created | "Apply" >> beam.Map(
        lambda d, t: boilerplate_fn(t)(d), t=beam.pvalue.AsDict(table))
    return outcomes


def test_boilerplate_lines_removed_per_source():
    with TestPipeline() as p:
        outcomes = _boilerplate_stage(p, _corpus(), min_docs=5, min_fraction=0.3)
        kept = (outcomes | "Kept" >> beam.Filter(lambda o: isinstance(o, Document))
                | "Texts" >> beam.Map(lambda d: (d.id, d.text)))
        dropped = (outcomes | "Dropped" >> beam.Filter(lambda o: isinstance(o, Drop))
                   | "Reasons" >> beam.Map(lambda d: (d.doc_id, d.stage, d.reason)))
        expected = [(f"cdc-{n:03d}", f"# Report {n}\n\nFinding number {n} about influenza in region {n}.")
                    for n in range(10)]
        # The NICE source has only 3 documents: below min_docs, its copies stay.
        expected += [(f"nice-{n:03d}", f"# Other {n}\n\nOther source text {n}.\n\n{BOILER}") for n in range(3)]
        assert_that(kept, equal_to(expected), label="kept")
        assert_that(dropped, equal_to([("cdc-099", "boilerplate", "empty_after_boilerplate")]), label="dropped")


def test_headings_and_short_lines_never_count_as_boilerplate():
    assert document_line_keys("# Resumen\n## Methods\nOK\nA line long enough to count") == \
        document_line_keys("A line long enough to count")


def test_boilerplate_settings_are_checked_with_the_config():
    from gap_pipeline.config import ConfigError, validate_config
    with pytest.raises(ConfigError, match="clean.boilerplate_min_docs: must be >= 1, got 0"):
        validate_config({"clean": {"boilerplate_min_docs": 0}})
    with pytest.raises(ConfigError, match="clean.boilerplate_min_fraction: must be <= 1"):
        validate_config({"clean": {"boilerplate_min_fraction": 1.5}})
