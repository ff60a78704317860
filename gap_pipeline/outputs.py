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
    def __init__(self, folder: str, prefix: str, buckets: int, suffix: str, encode: Callable[[list], bytes]):
        self._folder, self._prefix, self._buckets, self._suffix, self._encode = folder, prefix, buckets, suffix, encode

    def process(self, item):
        bucket, keyed = item
        rows = [row for _, row in sorted(keyed, key=lambda kv: kv[0])]
        name = f"{self._prefix}-{bucket:05d}-of-{self._buckets:05d}{self._suffix}"
        path = join_path(self._folder, name)
        write_bytes(path, self._encode(rows))
        yield path


class WriteSorted(beam.PTransform):
    """Write records into `buckets` files named prefix-XXXXX-of-YYYYY, sorted by `sort_key` inside each.

    Every bucket file is written, empty ones included, so the set of files is fixed by the config.
    """

    def __init__(self, folder: str, prefix: str, buckets: int, sort_key: Callable[[Any], str],
                 encode: Callable[[list], bytes], suffix: str):
        super().__init__()
        self._folder, self._prefix, self._buckets = folder, prefix, buckets
        self._sort_key, self._encode, self._suffix = sort_key, encode, suffix

    def expand(self, pcoll):
        buckets, sort_key = self._buckets, self._sort_key
        keyed = pcoll | "Key" >> beam.Map(lambda r: (stable_bucket(sort_key(r), buckets), (sort_key(r), r)))
        empty = (pcoll.pipeline | "AllBuckets" >> beam.Create([(b, None) for b in range(buckets)]))
        merged = ((keyed, empty) | "Flatten" >> beam.Flatten() | "Group" >> beam.GroupByKey()
                  | "DropMarkers" >> beam.MapTuple(lambda b, vals: (b, [v for v in vals if v is not None])))
        return merged | "Write" >> beam.ParDo(
            _WriteBucket(self._folder, self._prefix, buckets, self._suffix, self._encode))


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
