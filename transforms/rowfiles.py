"""Per-part row files: how packed token rows travel from packing to the shard writers without a shuffle.

The tokens phase packs each documents part into rows and writes them to one Arrow IPC file per part
(`work/tokens/rows/part-NNNNNN.arrow`); once the mixture is planned, each part's rows are rewritten in
shard order (`work/tokens/routed/part-NNNNNN.arrow`, with their stream `position`), so a shard writer
reads one contiguous range from each part file. What crosses a shuffle is one small record per
(part, shard) range; the tokens themselves are only streamed through files.

Files are Arrow IPC *file* format (random access: a range is read by record batch, and a local file is
memory-mapped with zero copies), written under a temporary name and renamed, so a retried bundle never
leaves half a file. Memory is bounded by one record batch on write.
"""
from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
from apache_beam.io.filesystems import FileSystems

from schemas.shard import token_dtype

BATCH_BYTES = 1 << 20  # token bytes per record batch


def row_file(folder: str, part: int) -> str:
    return FileSystems.join(folder, f"part-{part:06d}.arrow")


def row_schema(seq_len: int, vocab_size: int) -> pa.Schema:
    """Packed rows: the packing group (subset, split, source: "" unless packed by source), `index` (the
    row's number in its (part, group)), the row as the shards store it. Routing appends `position`
    (transforms.shards.route_part)."""
    fields = [
        pa.field("subset", pa.string(), nullable=False),
        pa.field("split", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("index", pa.int64(), nullable=False),
        pa.field("input_ids", pa.list_(token_dtype(vocab_size), seq_len + 1), nullable=False),
        pa.field("doc_ids", pa.list_(pa.string()), nullable=False),
        pa.field("doc_starts", pa.list_(pa.int32()), nullable=False),
    ]
    return pa.schema(fields)


class _Sink:
    """A file written beside its final name and renamed on close (local), or streamed (object stores,
    where an object appears only once its upload completes)."""

    def __init__(self, path: str):
        self.path, self._local = path, "://" not in path
        if self._local:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            self._tmp = f"{path}.tmp-{os.getpid()}"
            self.handle = open(self._tmp, "wb")
        else:
            self.handle = FileSystems.create(path)

    def close(self) -> None:
        self.handle.close()
        if self._local:
            os.replace(self._tmp, self.path)

    def abort(self) -> None:
        self.handle.close()
        if self._local and os.path.exists(self._tmp):
            os.remove(self._tmp)


def batch_rows(schema: pa.Schema) -> int:
    """Rows per record batch of a row file: ~BATCH_BYTES of tokens, from the row width only."""
    ids_type = schema.field("input_ids").type
    return max(1, BATCH_BYTES // (ids_type.list_size * ids_type.value_type.byte_width))


class RowWriter:
    """Streams rows into one row file, ~BATCH_BYTES of tokens per record batch (a function of the row
    width only, so files are the same whatever the bundles)."""

    def __init__(self, path: str, schema: pa.Schema, vocab_size: int | None = None):
        self.schema = schema
        ids_type = schema.field("input_ids").type
        self._dtype = ids_type.value_type.to_pandas_dtype()
        self._vocab = vocab_size  # ids are checked against it when given
        self.batch_rows = batch_rows(schema)
        self._buffer: dict[str, list] = {name: [] for name in self.schema.names}
        self.rows = 0
        self._sink = _Sink(path)
        self._writer = pa.ipc.new_file(self._sink.handle, self.schema)

    def add(self, row: dict[str, Any]) -> None:
        for name, values in self._buffer.items():
            values.append(row[name])
        self.rows += 1
        if len(self._buffer["index"]) >= self.batch_rows:
            self._flush()

    def add_table(self, table: pa.Table) -> None:
        """Append rows that are already a table of this file's schema (routing), in batches of
        `batch_rows`: give it `batch_rows` rows at a time to keep every batch but the last full."""
        for batch in table.select(self.schema.names).combine_chunks().to_batches(max_chunksize=self.batch_rows):
            self._writer.write_batch(pa.RecordBatch.from_arrays(batch.columns, schema=self.schema))
            self.rows += batch.num_rows

    def _flush(self) -> None:
        if not self._buffer["index"]:
            return
        import numpy as np
        width = self.schema.field("input_ids").type.list_size
        ids = np.concatenate(self._buffer["input_ids"]).astype(self._dtype, copy=False)
        if self._vocab is not None and ids.size and int(ids.max()) >= self._vocab:
            raise ValueError(f"token id {int(ids.max())} is outside the vocabulary of {self._vocab}")
        arrays = []
        for field in self.schema:
            if field.name == "input_ids":
                arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(ids), width))
            else:
                arrays.append(pa.array(self._buffer[field.name], field.type))
        self._writer.write_batch(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self._buffer = {name: [] for name in self.schema.names}

    def close(self) -> None:
        self._flush()
        self._writer.close()
        self._sink.close()

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self._sink.abort()


class RowFileError(ValueError):
    """A row file that cannot be read back (truncated, overwritten, not a row file)."""


def _open_file(source, path: str):
    try:
        return pa.ipc.open_file(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise RowFileError(f"{path}: not a complete row file ({exc}); the tokens phase must be rerun") from exc


def read_rows(path: str, columns: list[str] | None = None) -> pa.Table:
    """A whole row file (or some of its columns): memory-mapped with zero copies when local."""
    if "://" not in path:
        with pa.memory_map(path, "r") as source:
            table = _open_file(source, path).read_all()
    else:
        with FileSystems.open(path) as fh:
            table = _open_file(pa.BufferReader(fh.read()), path).read_all()
    return table.select(columns) if columns is not None else table


def read_range(path: str, start: int, count: int) -> pa.Table:
    """Rows [start, start + count) of a row file. A file of `RowWriter`'s holds `batch_rows(schema)`
    rows per record batch (the last may hold fewer), so only the batches that hold the range are read."""
    if "://" not in path:
        return read_rows(path).slice(start, count)
    with FileSystems.open(path) as fh:
        reader = _open_file(pa.PythonFile(fh, mode="r"), path)
        per = batch_rows(reader.schema)
        first, last = start // per, min((start + max(count, 1) - 1) // per, reader.num_record_batches - 1)
        pieces = [reader.get_batch(i) for i in range(first, last + 1)]
        return pa.Table.from_batches(pieces, schema=reader.schema).slice(start - first * per, count)
