"""The raw store record: what scrapers write and the pipeline reads (one row per fetched item)."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pyarrow as pa

RAW_SCHEMA_VERSION = 1


CONTENT_TYPES = ("html", "pdf", "jats", "pubmed-xml", "text", "json")

RAW_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("url", pa.string(), nullable=False),
        pa.field("fetched_at", pa.string(), nullable=False),  # ISO-8601 UTC
        pa.field("content_type", pa.string(), nullable=False),
        pa.field("content", pa.binary(), nullable=False),
        pa.field("sha256", pa.string(), nullable=False),
        pa.field("http_status", pa.int32(), nullable=False),
        pa.field("license", pa.string(), nullable=False),
        pa.field("meta", pa.string(), nullable=False),  # JSON object
    ],
    metadata={b"gap.schema": b"raw", b"gap.schema_version": str(RAW_SCHEMA_VERSION).encode()},
)


class RawRecordError(ValueError):
    """A raw record breaks the contract (missing field, bad content type, checksum mismatch)."""


@dataclasses.dataclass(frozen=True)
class RawRecord:
    source: str
    url: str
    fetched_at: str
    content_type: str
    content: bytes
    sha256: str
    http_status: int
    license: str
    meta: str = "{}"

    @classmethod
    def make(cls, *, source: str, url: str, fetched_at: str, content_type: str, content: bytes,
             http_status: int = 200, license: str = "unknown", meta: dict[str, Any] | None = None) -> "RawRecord":
        """Build a record, computing the checksum and serialising meta canonically."""
        return cls(source=source, url=url, fetched_at=fetched_at, content_type=content_type,
                   content=content, sha256=hashlib.sha256(content).hexdigest(), http_status=int(http_status),
                   license=license, meta=json.dumps(meta or {}, sort_keys=True, ensure_ascii=False))

    def meta_dict(self) -> dict[str, Any]:
        return json.loads(self.meta) if self.meta else {}

    def validate(self) -> None:
        """Raise RawRecordError naming the first broken field."""
        for name in ("source", "url", "fetched_at", "content_type", "sha256", "license"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise RawRecordError(f"raw record field {name!r} must be a non-empty string, got {value!r}")
        if self.content_type not in CONTENT_TYPES:
            raise RawRecordError(f"raw record content_type {self.content_type!r} is not one of {CONTENT_TYPES}")
        if not isinstance(self.content, (bytes, bytearray)):
            raise RawRecordError("raw record field 'content' must be bytes")
        if not isinstance(self.http_status, int) or isinstance(self.http_status, bool):
            raise RawRecordError(f"raw record field 'http_status' must be an integer, got {self.http_status!r}")
        if hashlib.sha256(self.content).hexdigest() != self.sha256:
            raise RawRecordError(f"raw record sha256 mismatch for {self.url}")
        try:
            meta = json.loads(self.meta)
        except (TypeError, ValueError) as exc:
            raise RawRecordError(f"raw record meta is not JSON: {exc}") from exc
        if not isinstance(meta, dict):
            raise RawRecordError("raw record meta must be a JSON object")

    def to_row(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "RawRecord":
        missing = [f.name for f in RAW_SCHEMA if f.name not in row]
        if missing:
            raise RawRecordError(f"raw record is missing fields {missing}")
        return cls(**{f.name: row[f.name] for f in RAW_SCHEMA})


def validate_raw_table(schema: pa.Schema) -> None:
    """Check that a Parquet/Arrow table read from the raw store has the raw-record columns."""
    for field in RAW_SCHEMA:
        if field.name not in schema.names:
            raise RawRecordError(f"raw store file lacks column {field.name!r}")
        actual = schema.field(field.name).type
        large = ((pa.types.is_binary(field.type) and pa.types.is_large_binary(actual))
                 or (pa.types.is_string(field.type) and pa.types.is_large_string(actual)))
        if not actual.equals(field.type) and not large:
            raise RawRecordError(f"raw store column {field.name!r} has type {actual}, expected {field.type}")


def read_parquet_file(fh, columns: list[str] | None = None) -> pa.Table:
    """Read Parquet from a *Python* file object (fsspec, Beam's FileSystems.open) in the calling thread only.

    `pq.read_table(fh)` (even with pre_buffer=False, use_threads=False: it goes through the dataset
    scanner) has Arrow's pool threads call back into the file's Python read(). One such task still
    running when the interpreter finalizes is killed by pthread_exit while taking the GIL; the forced
    unwind meets a noexcept C++ frame and the process aborts with "terminate called without an active
    exception" (exit 134) after all its work is done — about once in 60 runs of a read-then-exit script
    here (apache/arrow#34314). A ParquetFile without pre-buffering, read without threads, does every
    read in this thread (tests/integration/test_exit.py checks it)."""
    import pyarrow.parquet as pq
    return pq.ParquetFile(fh, pre_buffer=False).read(columns=columns, use_threads=False)
