"""schemas/events.py: the one way a stage makes a drop."""
from __future__ import annotations

from schemas.document import Document
from schemas.events import Drop, drop_from_json, extract_drop, make_drop
from schemas.raw import RawRecord
from schemas.stages import EXTRACT, QUALITY, STAGE_ORDER


def test_make_drop_names_the_document_and_counts_its_characters():
    doc = Document(id="d1", source="cdc", subset="guidelines", title="T", text="x" * 40)
    drop = make_drop(doc, QUALITY, "too_short", "40 < 50")
    assert drop == Drop(doc_id="d1", source="cdc", subset="guidelines", stage="quality", reason="too_short",
                        chars=40, detail="40 < 50")
    assert make_drop(doc, QUALITY, "too_short", chars=12).chars == 12  # e.g. the text left after cleaning
    assert drop_from_json(drop.to_json()) == drop


def test_extract_drop_is_named_by_the_raw_records_source():
    raw = RawRecord.make(source="pubmed", url="https://example.org/f.xml", fetched_at="2024-01-01T00:00:00Z",
                         content_type="pubmed-xml", content=b"<x/>", license="nlm-terms")
    drop = extract_drop(raw, "id1", "abstracts", "no_abstract", detail="PMID:1")
    assert (drop.stage, drop.source, drop.doc_id, drop.chars, drop.detail) == (EXTRACT, "pubmed", "id1", 0, "PMID:1")


def test_stage_names_are_declared_once_in_build_order():
    assert len(set(STAGE_ORDER)) == len(STAGE_ORDER)
    assert STAGE_ORDER.index("pubmed_updates") < STAGE_ORDER.index("boilerplate") < STAGE_ORDER.index("clean")
    assert STAGE_ORDER.index("fulltext") < STAGE_ORDER.index("dedup_exact") < STAGE_ORDER.index("dedup_near")
