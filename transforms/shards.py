"""Token shards: Arrow IPC stream files (uncompressed) of about `target_bytes`, deterministically shuffled.

Every row has its number in its split's stream, [0, rows) (`transforms.mix.row_orders`: mixed copies
for train, (key, bucket, index) order for validation). The number of shards follows the estimated bytes
of all rows (num_shards = ceil(bytes / target_bytes), from the mixture plan's small records); train rows
are shuffled by a seeded bijection of their number (`permute_index`: a global shuffle, not one per shard),
other splits keep their order, and the stream is cut into num_shards runs of equal row counts (+-1):
shard = position * num_shards // rows. So a shard holds about `target_bytes` whatever the corpus size,
and the files depend only on the rows and the seed: byte-identical whatever the number of workers.

Rows never cross a shuffle (transforms/rowfiles.py): `route_part` rewrites one part's packed rows in
(split, shard, position) order and returns one small range record per shard it feeds; `write_shard`
reads its ranges (one contiguous range per part), orders them by position and writes the shard. A shard
is serialised in memory (so its sha256 is known before it lands) and written through Beam's FileSystems
(local paths, gs://, ...); local files are written under a temporary name and renamed, so a retried
bundle never leaves half a shard. Uncompressed stream files memory-map with zero copies and
`datasets.Dataset.from_file` opens them. With `with_source` (a mixture by source: one source per row)
the shards also hold the optional `source` column and the shard infos count rows per source.
"""
from __future__ import annotations

import hashlib
import math
import os
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from schemas.checksum import sha256_stream
from schemas.shard import token_dtype, token_shard_schema
from transforms.mix import permute_index
from transforms.split import SPLITS, TRAIN

BATCH_BYTES = 1 << 20  # ids per record batch: ~1 MiB, a fixed function of seq_len (determinism)


def shard_name(split: str, index: int, count: int) -> str:
    """Path relative to the corpus folder, e.g. train/train-00000-of-00003.arrow."""
    return f"{split}/{split}-{index:05d}-of-{count:05d}.arrow"


def row_key(row: dict[str, Any]) -> tuple:
    """A row's identity: (subset, bucket, index, copy), plus its source when rows are packed by source
    (the index then counts within the source's packing group)."""
    key = (row["subset"], int(row["bucket"]), int(row["index"]), int(row.get("copy", 0)))
    return key + (row["source"],) if "source" in row else key


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
        raise ValueError(f"{split} row number {order} outside [0, {total}): the rows do not match the mixture "
                         "plan they were numbered by (transforms.mix.row_orders)")
    return permute_index(order, total, f"{seed}:shuffle:{split}") if shuffle else order


def shard_of(position: int, total: int, shards: int) -> int:
    """Shard of the row at `position` of `total`: `shards` consecutive runs of equal size (+-1 row)."""
    return position * shards // total


def write_rows(folder: str, split: str, index: int, count: int, rows: list[dict[str, Any]], seq_len: int,
               vocab_size: int, with_source: bool = False) -> dict[str, Any]:
    """Write and describe one shard of `rows` (in stream order); `folder` is the split's folder (OUT/<split>)."""
    return write_table(folder, split, index, count, rows_to_table(rows, seq_len, vocab_size, with_source), seq_len)


def write_table(folder: str, split: str, index: int, count: int, table: pa.Table, seq_len: int) -> dict[str, Any]:
    """Write and describe one shard holding `table` (shard schema, rows in stream order)."""
    data = serialize_table(table.combine_chunks(), seq_len)
    rel = shard_name(split, index, count)
    write_file(FileSystems.join(folder, rel.split("/", 1)[1]), data)
    info = {"path": rel, "split": split, "rows": table.num_rows, "tokens": table.num_rows * (seq_len + 1),
            "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
            "subset_rows": _value_counts(table["subset"])}
    if "source" in table.column_names:
        info["source_rows"] = _value_counts(table["source"])
    return info


def _value_counts(column) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in column.to_pylist():
        counts[value] = counts.get(value, 0) + 1
    return dict(sorted(counts.items()))


def read_shard(path: str) -> pa.Table:
    """Memory-map a shard and read it with zero copies."""
    with pa.memory_map(path, "r") as source:
        return pa.ipc.open_stream(source).read_all()


def shard_layout(plan: dict[str, Any], split: str, target_bytes: int) -> tuple[int, int]:
    """(shards, rows) of a split's stream, from the mixture plan."""
    the = plan[split]
    return shard_count(the["bytes"], the["rows"], target_bytes), the["rows"]


def route_part(part: int, rows_path: str, routed_path: str, plan: dict[str, Any], seed: int, by: str,
               target_bytes: int) -> list[tuple[tuple[str, int], tuple[int, int, int]]]:
    """Rewrite one part's packed rows (every copy of a mixed row) in (split, shard, position) order with
    their `position`; returns ((split, shard), (part, start, count)) for each shard the part feeds.
    Holds the part's small columns and one record batch of rows."""
    from transforms.mix import mixture_key, row_orders
    from transforms.rowfiles import RowWriter, read_rows
    table = read_rows(rows_path)
    layouts = {split: shard_layout(plan, split, target_bytes) for split in SPLITS}
    small = table.select(["subset", "split", "source", "index"]).to_pydict()
    entries = []  # (split rank, shard, position, row in the part's row file)
    for file_row, (subset, split, source, index) in enumerate(zip(small["subset"], small["split"], small["source"],
                                                                   small["index"])):
        key, bucket = mixture_key(subset, source, part, by)
        shards, total = layouts[split]
        try:
            orders = row_orders(plan, split, key, bucket, index, seed, by)
            positions = [stream_position(order, total, split, seed, split == TRAIN) for order in orders]
        except (KeyError, ValueError) as exc:  # row files left by another run, or a plan from other records
            raise ValueError(f"{rows_path}: {split} row {index} of {key} (part {part}) is not in the mixture plan "
                             f"({exc}); the row files and the plan must come from the same tokens phase") from exc
        for position in positions:
            entries.append((SPLITS.index(split), shard_of(position, total, shards), position, file_row))
    entries.sort()
    schema = table.schema.append(pa.field("position", pa.int64(), nullable=False))
    writer = RowWriter(routed_path, schema)
    try:
        step = writer.batch_rows  # full record batches: read_range finds a range's batches by arithmetic
        for i in range(0, len(entries), step):
            chunk = entries[i:i + step]
            piece = table.take(pa.array([e[3] for e in chunk], pa.int64()))
            writer.add_table(piece.append_column("position", pa.array([e[2] for e in chunk], pa.int64())))
    except BaseException:
        writer.abort()
        raise
    writer.close()
    ranges, start = [], 0
    for i in range(1, len(entries) + 1):
        if i == len(entries) or entries[i][:2] != entries[start][:2]:
            rank, shard = entries[start][:2]
            ranges.append(((SPLITS[rank], shard), (part, start, i - start)))
            start = i
    return ranges


def write_shard(split: str, index: int, ranges: list[tuple[int, int, int]], routed_folder: str, folder: str,
                plan: dict[str, Any], target_bytes: int, seq_len: int, vocab_size: int,
                with_source: bool) -> dict[str, Any]:
    """Gather one shard's rows from the parts' routed files, in stream order, and write it."""
    from transforms.rowfiles import read_range, row_file
    shards, total = shard_layout(plan, split, target_bytes)
    table = pa.concat_tables([read_range(row_file(routed_folder, part), start, count)
                              for part, start, count in sorted(ranges)])
    table = table.take(pc.sort_indices(table["position"]))
    positions = table["position"].to_numpy()
    first = -(-index * total // shards)  # the run shard_of maps to this shard
    if len(positions) == 0 or positions[0] != first or not np.array_equal(
            positions, np.arange(first, first + len(positions))) or shard_of(int(positions[-1]) + 1, total, shards) == index:
        raise ValueError(f"{split} shard {index}: routed rows do not cover its stream positions "
                         f"(got {len(positions)} rows from {first}); the routed files are incomplete")
    names = ["input_ids", "subset", "doc_ids", "doc_starts"] + (["source"] if with_source else [])
    schema = token_shard_schema(seq_len, vocab_size, with_source)
    if table.schema.field("input_ids").type != schema.field("input_ids").type:
        raise ValueError(f"packed rows hold {table.schema.field('input_ids').type}, the shards "
                         f"{schema.field('input_ids').type}")
    return write_table(folder, split, index, shards, pa.Table.from_arrays([table[n] for n in names], schema=schema),
                       seq_len)


class RouteParts(beam.PTransform):
    """Part numbers -> ((split, shard), (part, start, count)) ranges, after routing each part's row file
    (`route_part`). `plan` is the mixture plan as a singleton side input."""

    def __init__(self, rows_folder: str, routed_folder: str, plan, seed: int, by: str, target_bytes: int):
        super().__init__()
        self._args = (rows_folder, routed_folder, plan, seed, by, target_bytes)

    def expand(self, parts):
        rows_folder, routed_folder, plan, seed, by, target_bytes = self._args

        def route(part, the_plan):
            from transforms.rowfiles import row_file
            return route_part(part, row_file(rows_folder, part), row_file(routed_folder, part), the_plan, seed, by,
                              target_bytes)

        return parts | "Route" >> beam.FlatMap(route, plan)


class WriteShards(beam.PTransform):
    """Shard ranges (RouteParts) -> PCollection of shard infos {path, split, rows, tokens, sha256, bytes,
    subset_rows[, source_rows]}, one small record per shard; `out` is the corpus folder (shards go to
    OUT/<split>/, `path` in the infos is relative to OUT). A shard group holds one range record per part
    that feeds the shard; the writer holds one shard (about `target_bytes`). Counts `shards:rows_<split>`."""

    def __init__(self, routed_folder: str, out: str, plan, vocab_size, target_bytes: int, seq_len: int,
                 with_source: bool = False):
        super().__init__()
        self._args = (routed_folder, out, plan, vocab_size, target_bytes, seq_len, with_source)

    def expand(self, ranges):
        routed_folder, out, plan, vocab, target_bytes, seq_len, with_source = self._args

        def write(keyed, the_plan, vocab_size):
            (split, index), shard_ranges = keyed
            info = write_shard(split, index, list(shard_ranges), routed_folder, FileSystems.join(out, split), the_plan,
                               target_bytes, seq_len, vocab_size, with_source)
            Metrics.counter("gap", f"shards:rows_{split}").inc(info["rows"])
            return info

        return (ranges
                | "GroupShard" >> beam.GroupByKey()
                | "Write" >> beam.Map(write, plan, vocab))
