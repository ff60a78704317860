"""Token shards: Arrow IPC stream files (uncompressed) of about `target_bytes`, deterministically shuffled.

Rows go to shard hash(seed, row key) % num_shards, where num_shards follows from the measured bytes of
all rows; inside a shard, train rows are ordered by another seeded hash of the row key (a shuffle) and
validation rows by (subset, bucket, index). Both depend only on the rows and the seed, so the files
are byte-identical whatever the number of workers. A shard is serialised in memory (so its sha256 is
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
from transforms.split import TRAIN, stable_hash

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


def order_rows(rows: Iterable[dict[str, Any]], split: str, seed: int) -> list[dict[str, Any]]:
    """Train rows in seeded-hash order (a shuffle); other splits in (subset, bucket, index) order."""
    if split == TRAIN:
        return sorted(rows, key=lambda r: (stable_hash("shuffle", seed, *row_key(r)), row_key(r)))
    return sorted(rows, key=row_key)


def write_rows(folder: str, split: str, index: int, count: int, rows: list[dict[str, Any]], seq_len: int,
               vocab_size: int, seed: int, with_source: bool = False) -> dict[str, Any]:
    """Order, write and describe one shard; `folder` is the split's folder (OUT/<split>)."""
    ordered = order_rows(rows, split, seed)
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
    """Rows of one split -> PCollection of shard infos {path, split, rows, tokens, sha256, bytes, subset_rows}.

    `with_source=True` (rows packed by source) adds the `source` column and `source_rows` to the infos.
    `folder` is where the files go (OUT/<split>); `path` in the infos is relative to OUT
    (<split>/<split>-00000-of-00003.arrow). `vocab_size` is an int or a singleton side input (when the
    tokenizer is trained in the same pipeline). `tokens` counts the stored tokens, rows x (seq_len + 1).
    Counts `shards:rows_<split>`.
    """

    def __init__(self, folder: str, split: str, seq_len: int, vocab_size, target_bytes: int, seed: int,
                 with_source: bool = False):
        super().__init__()
        self._args = (str(folder), split, seq_len, vocab_size, target_bytes, seed, with_source)

    def expand(self, rows):
        folder, split, seq_len, vocab_size, target_bytes, seed, with_source = self._args
        if isinstance(vocab_size, beam.pvalue.AsSideInput):
            vocab = vocab_size
        else:
            vocab = beam.pvalue.AsSingleton(rows.pipeline | "Vocab" >> beam.Create([int(vocab_size)]))

        size = (rows
                | "Size" >> beam.Map(lambda r, v: (estimated_row_bytes(r, token_dtype(v).byte_width), 1), vocab)
                | "SumSize" >> beam.CombineGlobally(lambda pairs: tuple(map(sum, zip((0, 0), *pairs)))))
        count = size | "ShardCount" >> beam.Map(lambda s: shard_count(s[0], s[1], target_bytes))
        count_side = beam.pvalue.AsSingleton(count)

        def assign(row, n):
            return stable_hash("shard", seed, *row_key(row)) % n, row

        def write(keyed, n, v):
            index, shard_rows = keyed
            info = write_rows(folder, split, index, n, list(shard_rows), seq_len, v, seed, with_source)
            Metrics.counter("gap", f"shards:rows_{split}").inc(info["rows"])
            return info

        def finish(infos, n, v):
            # A hash can leave a shard empty on tiny inputs; write it anyway so names stay `of-n`.
            done = {info["path"] for info in infos}
            for index in range(n):
                if shard_name(split, index, n) not in done:
                    infos.append(write_rows(folder, split, index, n, [], seq_len, v, seed, with_source))
            return sorted(infos, key=lambda info: info["path"])

        written = (rows
                   | "AssignShard" >> beam.Map(assign, count_side)
                   | "GroupShard" >> beam.GroupByKey()
                   | "Write" >> beam.Map(write, count_side, vocab))
        return (written
                | "AllInfos" >> beam.combiners.ToList()
                | "Finish" >> beam.Map(finish, count_side, vocab)
                | "Each" >> beam.FlatMap(lambda infos: infos))
