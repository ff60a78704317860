"""Deterministic file writers used by the pipeline for documents, drops, quarantine and stats.

Beam's own sinks name and fill files by bundle, which changes with the worker count; a corpus must be
byte-identical whatever the layout, so records are bucketed by a stable hash, sorted inside each bucket
and written under fixed names through Beam's FileSystems (local paths, gs://, s3://...).
"""
from __future__ import annotations

import hashlib
import io
import json
from typing import Any, Callable, Iterable

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems


def stable_bucket(key: str, buckets: int) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % buckets


def join_path(*parts: str) -> str:
    return FileSystems.join(*parts)


def write_bytes(path: str, data: bytes) -> None:
    parent = path.rsplit("/", 1)[0]
    if "://" not in path:
        import os
        os.makedirs(parent, exist_ok=True)
    with FileSystems.create(path) as fh:
        fh.write(data)


def read_bytes(path: str) -> bytes:
    with FileSystems.open(path) as fh:
        return fh.read()


class _WriteBucket(beam.DoFn):
    def __init__(self, folder: str, prefix: str, suffix: str, encode: Callable[[list], bytes]):
        self._folder, self._prefix, self._suffix, self._encode = folder, prefix, suffix, encode

    def process(self, item, buckets: int):
        bucket, keyed = item
        rows = [row for _, row in sorted(keyed, key=lambda kv: kv[0])]
        name = f"{self._prefix}-{bucket:05d}-of-{buckets:05d}{self._suffix}"
        path = join_path(self._folder, name)
        write_bytes(path, self._encode(rows))
        yield path


def _keyed(record: Any, sort_key: Callable[[Any], str], buckets: int) -> tuple[int, tuple[str, Any]]:
    key = sort_key(record)  # once: for documents it hashes the whole text
    return stable_bucket(key, buckets), (key, record)


def bucket_count(total_bytes: int, target_bytes: int) -> int:
    return max(1, -(-total_bytes // target_bytes))


class WriteSorted(beam.PTransform):
    """Write records into files named prefix-XXXXX-of-YYYYY, sorted by `sort_key` inside each.

    The number of files follows the data (about `target_bytes` of `size(record)` per file), so no
    worker ever holds more than one file's worth whatever the corpus size; it is computed from the
    records themselves, so it is the same for every run and worker layout. Every bucket file is
    written, empty ones included, so the set of names is fixed by the data and the config.
    """

    def __init__(self, folder: str, prefix: str, sort_key: Callable[[Any], str],
                 encode: Callable[[list], bytes], suffix: str, size: Callable[[Any], int],
                 target_bytes: int = 128 * 1024 * 1024):
        super().__init__()
        self._folder, self._prefix = folder, prefix
        self._sort_key, self._encode, self._suffix = sort_key, encode, suffix
        self._size, self._target = size, target_bytes

    def expand(self, pcoll):
        sort_key, size, target = self._sort_key, self._size, self._target
        total = pcoll | "Size" >> beam.Map(size) | "Total" >> beam.CombineGlobally(sum)
        count = beam.pvalue.AsSingleton(total | "Count" >> beam.Map(lambda t: bucket_count(t, target)))
        keyed = pcoll | "Key" >> beam.Map(_keyed, sort_key, count)
        markers = (pcoll.pipeline | "One" >> beam.Create([None])
                   | "AllBuckets" >> beam.FlatMap(lambda _, n: [(b, None) for b in range(n)], count))
        merged = ((keyed, markers) | "Flatten" >> beam.Flatten() | "Group" >> beam.GroupByKey()
                  | "DropMarkers" >> beam.MapTuple(lambda b, vals: (b, [v for v in vals if v is not None])))
        return merged | "Write" >> beam.ParDo(_WriteBucket(self._folder, self._prefix, self._suffix, self._encode),
                                              count)


def encode_jsonl(rows: Iterable[str]) -> bytes:
    return "".join(line + "\n" for line in rows).encode("utf-8")


def encode_parquet(schema: pa.Schema) -> Callable[[list[dict]], bytes]:
    def encode(rows: list[dict]) -> bytes:
        table = pa.Table.from_pylist(rows, schema=schema)
        sink = io.BytesIO()
        pq.write_table(table, sink, compression="zstd")
        return sink.getvalue()
    return encode


def encode_json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
