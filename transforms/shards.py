"""Token shards: Arrow IPC stream files (uncompressed) of about `target_bytes`, deterministically shuffled.

Every row arrives numbered: `order` is its place in the split's stream, [0, rows) (set by `Mix` for
train rows, by `NumberRows` for the others). The number of shards follows the measured bytes of all rows
(num_shards = ceil(bytes / target_bytes)); train rows are shuffled by a seeded bijection of their number
(`permute_index`: a global shuffle, not one per shard), other splits keep their order, and the stream
is cut into num_shards runs of equal row counts (+-1): shard = position * num_shards // rows. So a shard
holds about `target_bytes` whatever the corpus size, and the files depend only on the rows and the
seed: byte-identical whatever the number of workers. A shard is serialised in memory (so its sha256 is
known before it lands) and written through Beam's FileSystems (local paths, gs://, ...); local files
are written under a temporary name and renamed, so a retried bundle never leaves half a shard.
Uncompressed stream files memory-map with zero copies and `datasets.Dataset.from_file` opens them.
With `with_source` (a mixture by source: one source per row) the shards also hold the optional `source`
column and the shard infos count rows per source.
"""
from __future__ import annotations

import hashlib
import math
import os
from typing import Any, Iterable

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas.checksum import sha256_stream
from schemas.shard import token_dtype, token_shard_schema
from transforms.mix import permute_index
from transforms.split import TRAIN

BATCH_BYTES = 1 << 20  # ids per record batch: ~1 MiB, a fixed function of seq_len (determinism)


def shard_name(split: str, index: int, count: int) -> str:
    """Path relative to the corpus folder, e.g. train/train-00000-of-00003.arrow."""
    return f"{split}/{split}-{index:05d}-of-{count:05d}.arrow"


def row_key(row: dict[str, Any]) -> tuple:
    """A row's identity: (subset, bucket, index, copy), plus its source when rows are packed by source
    (the index then counts within the source's packing group)."""
    key = (row["subset"], int(row["bucket"]), int(row["index"]), int(row.get("copy", 0)))
    return key + (row["source"],) if "source" in row else key


def estimated_row_bytes(row: dict[str, Any], id_bytes: int) -> int:
    ids = len(row["input_ids"]) * id_bytes
    docs = sum(len(d) for d in row["doc_ids"]) + 8 * len(row["doc_ids"]) + 4 * len(row["doc_starts"])
    return ids + docs + len(row["subset"]) + 16 + (len(row["source"]) + 4 if "source" in row else 0)


def shard_count(total_bytes: int, rows: int, target_bytes: int) -> int:
    if rows == 0:
        return 0
    return max(1, min(rows, math.ceil(total_bytes / target_bytes)))


def rows_to_table(rows: list[dict[str, Any]], seq_len: int, vocab_size: int, with_source: bool = False) -> pa.Table:
    schema = token_shard_schema(seq_len, vocab_size, with_source)
    width = seq_len + 1
    dtype = np.uint16 if token_dtype(vocab_size) == pa.uint16() else np.uint32
    if rows:
        ids = np.concatenate([np.asarray(r["input_ids"]) for r in rows])
        if len(ids) != width * len(rows):
            bad = next(i for i, r in enumerate(rows) if len(r["input_ids"]) != width)
            raise ValueError(f"row {row_key(rows[bad])} has {len(rows[bad]['input_ids'])} ids, expected {width}")
        if ids.size and int(ids.max()) >= vocab_size:
            raise ValueError(f"token id {int(ids.max())} is outside the vocabulary of {vocab_size}")
        ids = ids.astype(dtype)
    else:
        ids = np.zeros(0, dtype=dtype)
    columns = [
        pa.FixedSizeListArray.from_arrays(pa.array(ids), width),
        pa.array([r["subset"] for r in rows], pa.string()),
        pa.array([list(r["doc_ids"]) for r in rows], pa.list_(pa.string())),
        pa.array([[int(s) for s in r["doc_starts"]] for r in rows], pa.list_(pa.int32())),
    ]
    if with_source:
        missing = next((row_key(r) for r in rows if "source" not in r), None)
        if missing is not None:
            raise ValueError(f"row {missing} has no source, but the shards are written with a source column")
        columns.append(pa.array([r["source"] for r in rows], pa.string()))
    return pa.Table.from_arrays(columns, schema=schema)


def serialize_table(table: pa.Table, seq_len: int) -> bytes:
    """`table` as an uncompressed Arrow IPC stream, in record batches of a fixed number of rows."""
    width_bytes = (seq_len + 1) * table.schema.field("input_ids").type.value_type.byte_width
    batch_rows = max(1, BATCH_BYTES // width_bytes)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(compression=None)) as writer:
        for batch in table.to_batches(max_chunksize=batch_rows):
            writer.write_batch(batch)
    return sink.getvalue().to_pybytes()


def write_file(path: str, data: bytes) -> None:
    """Write bytes: atomically (temporary name + rename) on local disk, through FileSystems elsewhere."""
    if "://" not in path:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}-{id(data)}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return
    with FileSystems.create(path) as fh:
        fh.write(data)


def file_sha256(path: str) -> str:
    with FileSystems.open(path) if "://" in path else open(path, "rb") as f:
        return sha256_stream(f)


def stream_position(order: int, total: int, split: str, seed: int, shuffle: bool) -> int:
    """Where the row numbered `order` (of `total`) stands in the written stream: shuffled by a seeded
    bijection when `shuffle` (train), else unchanged."""
    if not 0 <= order < total:
        raise ValueError(f"{split} row number {order} outside [0, {total}): rows must be numbered by Mix or "
                         "NumberRows before WriteShards")
    return permute_index(order, total, f"{seed}:shuffle:{split}") if shuffle else order


def shard_of(position: int, total: int, shards: int) -> int:
    """Shard of the row at `position` of `total`: `shards` consecutive runs of equal size (+-1 row)."""
    return position * shards // total


def write_rows(folder: str, split: str, index: int, count: int, rows: list[dict[str, Any]], seq_len: int,
               vocab_size: int, with_source: bool = False) -> dict[str, Any]:
    """Write and describe one shard of `rows` (in stream order); `folder` is the split's folder (OUT/<split>)."""
    ordered = rows
    data = serialize_table(rows_to_table(ordered, seq_len, vocab_size, with_source), seq_len)
    rel = shard_name(split, index, count)
    write_file(FileSystems.join(folder, rel.split("/", 1)[1]), data)
    subsets: dict[str, int] = {}
    for r in ordered:
        subsets[r["subset"]] = subsets.get(r["subset"], 0) + 1
    info = {"path": rel, "split": split, "rows": len(ordered), "tokens": len(ordered) * (seq_len + 1),
            "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "subset_rows": dict(sorted(subsets.items()))}
    if with_source:
        sources: dict[str, int] = {}
        for r in ordered:
            sources[r["source"]] = sources.get(r["source"], 0) + 1
        info["source_rows"] = dict(sorted(sources.items()))
    return info


def read_shard(path: str) -> pa.Table:
    """Memory-map a shard and read it with zero copies."""
    with pa.memory_map(path, "r") as source:
        return pa.ipc.open_stream(source).read_all()


class WriteShards(beam.PTransform):
    """Numbered rows of one split -> PCollection of shard infos {path, split, rows, tokens, sha256, bytes,
    subset_rows}.

    Rows carry `order` (Mix for train rows, NumberRows otherwise). `shuffle` (default: the train split)
    shuffles the stream. `with_source=True` (rows packed by source) adds the `source` column and
    `source_rows` to the infos. `folder` is where the files go (OUT/<split>); `path` in the infos is
    relative to OUT (<split>/<split>-00000-of-00003.arrow). `vocab_size` is an int or a singleton side
    input (when the tokenizer is trained in the same pipeline). `tokens` counts the stored tokens,
    rows x (seq_len + 1). A shard group holds ceil(rows / num_shards) rows, about `target_bytes`; the
    only side inputs are scalars and the infos are one small record per shard. Counts `shards:rows_<split>`.
    """

    def __init__(self, folder: str, split: str, seq_len: int, vocab_size, target_bytes: int, seed: int,
                 with_source: bool = False, shuffle: bool | None = None):
        super().__init__()
        shuffle = split == TRAIN if shuffle is None else shuffle
        self._args = (str(folder), split, seq_len, vocab_size, target_bytes, seed, with_source, shuffle)

    def expand(self, rows):
        folder, split, seq_len, vocab_size, target_bytes, seed, with_source, shuffle = self._args
        if isinstance(vocab_size, beam.pvalue.AsSideInput):
            vocab = vocab_size
        else:
            vocab = beam.pvalue.AsSingleton(rows.pipeline | "Vocab" >> beam.Create([int(vocab_size)]))

        size = (rows
                | "Size" >> beam.Map(lambda r, v: (estimated_row_bytes(r, token_dtype(v).byte_width), 1), vocab)
                | "SumSize" >> beam.CombineGlobally(lambda pairs: tuple(map(sum, zip((0, 0), *pairs)))))
        # (shards, rows): two scalars.
        layout = beam.pvalue.AsSingleton(
            size | "ShardCount" >> beam.Map(lambda s: (shard_count(s[0], s[1], target_bytes), s[1])))

        def assign(row, the_layout):
            n, total = the_layout
            if "order" not in row:
                raise ValueError(f"row {row_key(row)} has no 'order': number rows with Mix or NumberRows "
                                 "before WriteShards")
            position = stream_position(int(row["order"]), total, split, seed, shuffle)
            return shard_of(position, total, n), (position, row)

        def write(keyed, the_layout, v):
            index, shard_rows = keyed
            ordered = [row for _, row in sorted(shard_rows, key=lambda pr: pr[0])]
            info = write_rows(folder, split, index, the_layout[0], ordered, seq_len, v, with_source)
            Metrics.counter("gap", f"shards:rows_{split}").inc(info["rows"])
            return info

        def finish(infos, the_layout, v):
            # Every shard gets rows (num_shards <= rows); this only guards the `of-n` names.
            n = the_layout[0]
            done = {info["path"] for info in infos}
            for index in range(n):
                if shard_name(split, index, n) not in done:
                    infos.append(write_rows(folder, split, index, n, [], seq_len, v, with_source))
            return sorted(infos, key=lambda info: info["path"])

        written = (rows
                   | "AssignShard" >> beam.Map(assign, layout)
                   | "GroupShard" >> beam.GroupByKey()
                   | "Write" >> beam.Map(write, layout, vocab))
        return (written
                | "AllInfos" >> beam.combiners.ToList()
                | "Finish" >> beam.Map(finish, layout, vocab)
                | "Each" >> beam.FlatMap(lambda infos: infos))
