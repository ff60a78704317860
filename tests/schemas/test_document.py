"""schemas/document.py: Document.meta is a dict in memory and one JSON string in storage."""
from __future__ import annotations

import pyarrow as pa
import pytest

from schemas.document import DOCUMENT_SCHEMA, Document, encode_meta
from transforms.docfiles import read_documents, write_documents

# A stored meta string as every extractor has always written it: sorted keys, nested objects sorted
# too, non-ASCII kept, default separators.
STORED = '{"date": "2021-03-04", "lang_shares": {"de": 0.25, "en": 0.75}, "pmid": "123", "title": "Überblick – α"}'


def _doc(**meta) -> Document:
    return Document(id="d1", source="pubmed", subset="abstracts", title="T", text="Some text.", meta=meta)


def test_stored_meta_is_the_same_string_after_a_round_trip():
    row = {f.name: None for f in DOCUMENT_SCHEMA} | {"id": "d1", "source": "pubmed", "subset": "abstracts",
                                                       "title": "T", "text": "x", "meta": STORED}
    doc = Document.from_row(row)
    assert doc.meta == {"date": "2021-03-04", "lang_shares": {"de": 0.25, "en": 0.75}, "pmid": "123",
                        "title": "Überblick – α"}
    assert doc.to_row()["meta"] == STORED
    assert Document.from_row(doc.to_row()) == doc


def test_meta_is_serialised_with_sorted_keys_whatever_the_insertion_order():
    doc = _doc(title="Überblick – α", pmid="123", lang_shares={"en": 0.75, "de": 0.25}, date="2021-03-04")
    assert doc.meta_json() == STORED == encode_meta(doc.meta)
    assert list(doc.to_row()) == [f.name for f in DOCUMENT_SCHEMA]
    pa.Table.from_pylist([doc.to_row()], schema=DOCUMENT_SCHEMA)  # the stored column is still a string


def test_part_file_round_trip_is_byte_identical(tmp_path):
    docs = [_doc(pmid=str(n), lang_shares={"en": 1.0}) for n in range(3)]
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write_documents(str(first), docs)
    back = list(read_documents(str(first)))
    assert back == docs and all(isinstance(d.meta, dict) for d in back)
    write_documents(str(second), back)
    assert first.read_bytes() == second.read_bytes()


def test_with_meta_returns_a_new_document_and_leaves_the_old_meta_alone():
    doc = _doc(pmid="1")
    newer = doc.with_meta(priority=2, pmid="2")
    assert doc.meta == {"pmid": "1"} and newer.meta == {"pmid": "2", "priority": 2}
    assert newer.meta is not doc.meta


@pytest.mark.parametrize("stored", [None, ""])
def test_missing_stored_meta_reads_as_empty(stored):
    row = {"id": "d", "source": "s", "subset": "papers", "title": "", "text": "x", "url": "", "license": "",
           "lang": "", "lang_score": 0.0, "meta": stored}
    assert Document.from_row(row).meta == {}


def test_a_json_string_as_meta_is_refused_with_a_clear_error():
    with pytest.raises(TypeError, match="meta must be a dict, not str"):
        Document(id="d", source="s", subset="papers", title="", text="x", meta='{"a": 1}')
