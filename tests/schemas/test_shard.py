"""schemas/shard.py: the token-shard schema (id width, seq_len and vocabulary in the metadata, the optional
source column) and the check readers run on a shard's schema."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from schemas.shard import SHARD_SCHEMA_VERSION, token_dtype, token_shard_schema, validate_shard_schema


def _write_and_read(path, schema: pa.Schema, rows: list[list[int]], sources=None) -> pa.Table:
    """One IPC stream shard of `rows` (one document each), read back."""
    ids_type = schema.field("input_ids").type
    columns = [pa.FixedSizeListArray.from_arrays(pa.array(np.array(rows).reshape(-1), type=ids_type.value_type),
                                                 ids_type.list_size),
               pa.array(["guidelines"] * len(rows)), pa.array([[f"doc-{i}"] for i in range(len(rows))]),
               pa.array([[0]] * len(rows), pa.list_(pa.int32()))]
    if sources is not None:
        columns.append(pa.array(sources, pa.string()))
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        writer.write_batch(pa.record_batch(columns, schema=schema))
    with pa.OSFile(str(path), "rb") as source:
        return pa.ipc.open_stream(source).read_all()


@pytest.mark.parametrize("vocab_size", [1, 256, 65535, 65536, 65537, 128_256, 1 << 24])
def test_every_token_id_of_the_vocabulary_fits_the_chosen_width(vocab_size):
    dtype = token_dtype(vocab_size)
    assert dtype in (pa.uint16(), pa.uint32())
    assert vocab_size - 1 <= np.iinfo(dtype.to_pandas_dtype()).max
    if vocab_size <= 65535:
        assert dtype == pa.uint16()  # the narrow width whenever it suffices (half the disk)


def test_the_schema_records_seq_len_vocabulary_and_version():
    schema = token_shard_schema(32, 50_000)
    ids = schema.field("input_ids").type
    assert pa.types.is_fixed_size_list(ids) and ids.list_size == 33 and ids.value_type == pa.uint16()
    assert schema.names == ["input_ids", "subset", "doc_ids", "doc_starts"]
    assert not any(f.nullable for f in schema)
    assert schema.metadata == {b"gap.schema": b"token_shard", b"gap.schema_version": str(SHARD_SCHEMA_VERSION).encode(),
                               b"gap.seq_len": b"32", b"gap.vocab_size": b"50000"}
    assert token_shard_schema(32, 50_000) == token_shard_schema(32, 50_000)  # deterministic
    assert token_shard_schema(8, 200_000).field("input_ids").type.value_type == pa.uint32()


def test_the_source_column_is_optional_nullable_and_last():
    schema = token_shard_schema(4, 100, with_source=True)
    assert schema.names[-1] == "source"
    assert schema.field("source").nullable and schema.field("source").type == pa.string()
    assert validate_shard_schema(schema) == 4
    assert validate_shard_schema(token_shard_schema(4, 100)) == 4  # readers do not require it


@pytest.mark.parametrize("seq_len", [0, -1])
def test_a_non_positive_seq_len_is_refused(seq_len):
    with pytest.raises(ValueError, match="seq_len must be positive"):
        token_shard_schema(seq_len, 100)


def test_a_written_shard_reads_back_with_its_schema_and_ids(tmp_path):
    schema = token_shard_schema(3, 70_000, with_source=True)
    rows = [[0, 1, 65535, 69_999], [5, 6, 7, 8]]  # ids above uint16's range need the wide type
    table = _write_and_read(tmp_path / "shard-00000.arrow", schema, rows, sources=["cdc", None])
    assert validate_shard_schema(table.schema, seq_len=3) == 3
    assert table.schema.metadata[b"gap.seq_len"] == b"3"
    assert table.column("input_ids").to_pylist() == rows
    assert table.column("source").to_pylist() == ["cdc", None]


def _without(schema: pa.Schema, name: str) -> pa.Schema:
    return schema.remove(schema.get_field_index(name))


def _replace(schema: pa.Schema, name: str, type_: pa.DataType) -> pa.Schema:
    return schema.set(schema.get_field_index(name), pa.field(name, type_))


GOOD = token_shard_schema(16, 1000, with_source=True)


@pytest.mark.parametrize("schema, message", [
    (_without(GOOD, "input_ids"), "token shard lacks an 'input_ids' column"),
    (_replace(GOOD, "input_ids", pa.list_(pa.uint16())), "input_ids must be a fixed_size_list, got list<item: uint16>"),
    (_replace(GOOD, "input_ids", pa.list_(pa.int32(), 17)), "input_ids values must be uint16 or uint32, got int32"),
    (_without(GOOD, "subset"), "token shard lacks a 'subset' column"),
    (_without(GOOD, "doc_ids"), "token shard lacks a 'doc_ids' column"),
    (_replace(GOOD, "source", pa.int32()), "the optional 'source' column must be string, got int32"),
    (_replace(GOOD, "input_ids", pa.list_(pa.uint16(), 1)), "input_ids rows must hold at least 2 tokens (seq_len + 1), "
                                                             "got 1"),
])
def test_a_broken_schema_is_refused_naming_the_problem(schema, message):
    with pytest.raises(ValueError) as info:
        validate_shard_schema(schema)
    assert str(info.value) == message


def test_a_shard_of_another_seq_len_is_refused_when_one_is_expected():
    assert validate_shard_schema(GOOD) == 16
    assert validate_shard_schema(GOOD, seq_len=16) == 16
    with pytest.raises(ValueError, match="token shard has seq_len 16, expected 32"):
        validate_shard_schema(GOOD, seq_len=32)
