"""Token shards: Arrow IPC stream files, one row per training sample of seq_len + 1 tokens."""
from __future__ import annotations

import pyarrow as pa

SHARD_SCHEMA_VERSION = 1
UINT16_MAX_VOCAB = 65535


def token_dtype(vocab_size: int) -> pa.DataType:
    """uint16 while every id fits, else uint32."""
    return pa.uint16() if vocab_size <= UINT16_MAX_VOCAB else pa.uint32()


def token_shard_schema(seq_len: int, vocab_size: int, with_source: bool = False) -> pa.Schema:
    """The shard schema; `with_source` appends the optional nullable `source` column, written when the
    mixture is by source (packing then keeps each row to one source). Readers must not require it."""
    if seq_len < 1:
        raise ValueError("seq_len must be positive")
    fields = [
        pa.field("input_ids", pa.list_(token_dtype(vocab_size), seq_len + 1), nullable=False),
        pa.field("subset", pa.string(), nullable=False),
        pa.field("doc_ids", pa.list_(pa.string()), nullable=False),
        pa.field("doc_starts", pa.list_(pa.int32()), nullable=False),
    ]
    if with_source:
        fields.append(pa.field("source", pa.string(), nullable=True))
    return pa.schema(
        fields,
        metadata={
            b"gap.schema": b"token_shard",
            b"gap.schema_version": str(SHARD_SCHEMA_VERSION).encode(),
            b"gap.seq_len": str(seq_len).encode(),
            b"gap.vocab_size": str(vocab_size).encode(),
        },
    )


def validate_shard_schema(schema: pa.Schema, seq_len: int | None = None) -> int:
    """Check a shard's schema; returns its seq_len. Raises ValueError naming the problem."""
    if "input_ids" not in schema.names:
        raise ValueError("token shard lacks an 'input_ids' column")
    ids_type = schema.field("input_ids").type
    if not pa.types.is_fixed_size_list(ids_type):
        raise ValueError(f"input_ids must be a fixed_size_list, got {ids_type}")
    if ids_type.value_type not in (pa.uint16(), pa.uint32()):
        raise ValueError(f"input_ids values must be uint16 or uint32, got {ids_type.value_type}")
    for name in ("subset", "doc_ids"):
        if name not in schema.names:
            raise ValueError(f"token shard lacks a {name!r} column")
    if "source" in schema.names and schema.field("source").type != pa.string():
        raise ValueError(f"the optional 'source' column must be string, got {schema.field('source').type}")
    found = ids_type.list_size - 1
    if found < 1:  # a row is seq_len + 1 tokens (inputs and the next-token targets): at least 2
        raise ValueError(f"input_ids rows must hold at least 2 tokens (seq_len + 1), got {ids_type.list_size}")
    if seq_len is not None and found != seq_len:
        raise ValueError(f"token shard has seq_len {found}, expected {seq_len}")
    return found
