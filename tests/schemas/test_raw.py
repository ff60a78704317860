"""schemas/raw.py: the raw record (make, validate, row round trip), the raw-table column check and the
Parquet reader used on Python file objects."""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.raw import (CONTENT_TYPES, RAW_SCHEMA, RawRecord, RawRecordError, read_parquet_file,
                         validate_raw_table)

ODD = "a\u2028b\u2029c\u0085d"  # legal inside JSON strings, line breaks to str.splitlines()


def _record(**kw) -> RawRecord:
    args = dict(source="cdc", url="https://example.org/a", fetched_at="2026-01-01T00:00:00+00:00",
                content_type="html", content=b"<p>x</p>", license="public-domain")
    args.update(kw)
    return RawRecord.make(**args)


def test_make_checksums_the_content_and_writes_meta_canonically():
    rec = _record(content="é".encode(), meta={"b": ODD, "a": 1}, http_status="203")
    assert rec.sha256 == hashlib.sha256("é".encode()).hexdigest()
    assert rec.http_status == 203
    assert rec.meta == '{"a": 1, "b": "' + ODD + '"}'  # sorted keys, non-ASCII kept as is
    assert rec.meta_dict() == {"a": 1, "b": ODD}
    assert _record(meta={"a": 1, "b": ODD}).meta == _record(meta={"b": ODD, "a": 1}).meta  # key order irrelevant
    assert _record().meta == "{}" and _record().meta_dict() == {}
    assert (_record().http_status, _record().license) == (200, "public-domain")
    rec.validate()


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
def test_every_content_type_validates_even_with_empty_content(content_type):
    _record(content_type=content_type, content=b"").validate()


@pytest.mark.parametrize("field, value, message", [
    ("source", "", "field 'source' must be a non-empty string, got ''"),
    ("url", None, "field 'url' must be a non-empty string, got None"),
    ("fetched_at", 20260101, "field 'fetched_at' must be a non-empty string, got 20260101"),
    ("license", b"cc0", "field 'license' must be a non-empty string, got b'cc0'"),
    ("content_type", "xml", "content_type 'xml' is not one of"),
    ("content", "text", "field 'content' must be bytes"),
    ("sha256", "0" * 64, "sha256 mismatch for https://example.org/a"),
    ("meta", "{not json", "meta is not JSON"),
    ("meta", None, "meta is not JSON"),
    ("meta", "[1, 2]", "meta must be a JSON object"),
    ("http_status", "200", "field 'http_status' must be an integer, got '200'"),
    ("http_status", None, "field 'http_status' must be an integer, got None"),
])
def test_validate_names_the_broken_field_in_one_line(field, value, message):
    rec = dataclasses.replace(_record(), **{field: value})
    with pytest.raises(RawRecordError) as info:
        rec.validate()
    assert message in str(info.value) and "\n" not in str(info.value)


def test_row_round_trip_keeps_every_field_and_ignores_extra_columns():
    rec = _record(content=gzip.compress(b"\x00\xff" * 50, mtime=0), meta={"title": ODD})
    row = rec.to_row()
    assert set(row) == set(RAW_SCHEMA.names)
    assert RawRecord.from_row(row) == rec
    assert RawRecord.from_row({**row, "row_number": 7}) == rec


def test_from_row_names_every_missing_field():
    row = _record().to_row()
    del row["sha256"], row["meta"]
    with pytest.raises(RawRecordError, match=r"raw record is missing fields \['sha256', 'meta'\]"):
        RawRecord.from_row(row)


def test_records_survive_a_parquet_round_trip_read_from_a_python_file(tmp_path):
    recs = [_record(url=f"https://example.org/{i}", content=bytes(range(256)) * i, meta={"n": i, "t": ODD})
            for i in range(3)]
    path = tmp_path / "part-000000.parquet"
    pq.write_table(pa.Table.from_pylist([r.to_row() for r in recs], schema=RAW_SCHEMA), path)
    with open(path, "rb") as fh:
        table = read_parquet_file(fh)
    validate_raw_table(table.schema)
    back = [RawRecord.from_row(row) for row in table.to_pylist()]
    assert back == recs
    for rec in back:
        rec.validate()
    with open(path, "rb") as fh:
        urls = read_parquet_file(fh, columns=["url"])
    assert urls.column_names == ["url"] and urls.column("url").to_pylist() == [r.url for r in recs]


def test_a_truncated_parquet_file_is_refused_not_read_in_part(tmp_path):
    path = tmp_path / "part.parquet"
    pq.write_table(pa.Table.from_pylist([_record().to_row()], schema=RAW_SCHEMA), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with open(path, "rb") as fh, pytest.raises(pa.ArrowInvalid):
        read_parquet_file(fh)


def _schema_with(name: str, type_: pa.DataType) -> pa.Schema:
    return pa.schema([pa.field(f.name, type_ if f.name == name else f.type) for f in RAW_SCHEMA])


def test_raw_table_check_names_a_missing_or_mistyped_column():
    validate_raw_table(RAW_SCHEMA)
    validate_raw_table(pa.schema(list(RAW_SCHEMA) + [pa.field("extra", pa.int8())]))
    with pytest.raises(RawRecordError, match="raw store file lacks column 'sha256'"):
        validate_raw_table(pa.schema([f for f in RAW_SCHEMA if f.name != "sha256"]))
    with pytest.raises(RawRecordError, match="raw store column 'http_status' has type int64, expected int32"):
        validate_raw_table(_schema_with("http_status", pa.int64()))
    with pytest.raises(RawRecordError, match="raw store column 'content' has type string, expected binary"):
        validate_raw_table(_schema_with("content", pa.string()))


def test_large_variants_are_accepted_only_for_their_own_kind_of_column():
    validate_raw_table(_schema_with("content", pa.large_binary()))
    validate_raw_table(_schema_with("url", pa.large_string()))
    for name, type_ in (("http_status", pa.large_string()), ("content", pa.large_string()),
                        ("url", pa.large_binary())):
        with pytest.raises(RawRecordError, match=f"raw store column '{name}' has type {type_}"):
            validate_raw_table(_schema_with(name, type_))


def test_meta_dict_of_an_empty_meta_is_an_empty_dict():
    assert dataclasses.replace(_record(), meta="").meta_dict() == {}
    assert json.loads(_record(meta={"k": [1, {"x": None}]}).meta) == {"k": [1, {"x": None}]}
