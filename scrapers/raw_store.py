"""The raw store: append-only Parquet parts per source, plus an index of what is stored.

Layout (root is a local folder or any fsspec URL):

    ROOT/<source>/part-000000.parquet     rows of schemas.raw.RAW_SCHEMA, never rewritten
    ROOT/<source>/part-000001.parquet
    ROOT/<source>/_index.json             cache of {url: [sha256, fetched_at, etag, last_modified]}
    ROOT/<source>/_last_scrape.json       counts of the last `gap scrape` of this source

A part is written to a hidden temp name and renamed into place, so a reader never sees half a part
and a crawl killed at any moment (SIGKILL included) leaves at worst an orphan temp file, which the
next writer removes. The parts are the truth: the index is a cache rebuilt from the parts' `url`,
`sha256` and `meta` columns whenever it does not cover exactly the parts present.

A page that changed is appended again (append-only); readers take the newest version of each
(source, url) unless asked for all versions. Reading a store (listing parts, records, newest versions)
is `schemas.raw_store`'s, the one reader the build uses too.
"""
from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import uuid
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.raw import RAW_SCHEMA, RawRecord
from schemas.raw_store import FsspecFiles, RawStoreError, read_columns
from schemas.raw_store import fs_and_path as _fs_and_path

log = logging.getLogger(__name__)

PART_RE = re.compile(r"^part-(\d{6})\.parquet$")
INDEX_NAME = "_index.json"
LAST_SCRAPE_NAME = "_last_scrape.json"
_SOURCE_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def _is_local(fs: fsspec.AbstractFileSystem) -> bool:
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return protocol in ("file", "local")


def _atomic_write_bytes(fs: fsspec.AbstractFileSystem, path: str, data: bytes) -> None:
    if not _is_local(fs):
        # Object stores (gs://, s3://...) publish an object only once its upload completes, so the
        # upload itself is atomic; a temp object and a move would cost a server-side copy.
        fs.pipe_file(path, data)
        return
    directory, name = posixpath.split(path)
    tmp = posixpath.join(directory, f".{name}.tmp-{uuid.uuid4().hex}")
    with fs.open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)  # atomic on POSIX


class StoredEntry(tuple):
    """(sha256, fetched_at, etag, last_modified) of the newest stored version of a URL."""
    __slots__ = ()

    def __new__(cls, sha256: str, fetched_at: str, etag: str | None, last_modified: str | None):
        return super().__new__(cls, (sha256, fetched_at, etag, last_modified))

    sha256 = property(lambda self: self[0])
    fetched_at = property(lambda self: self[1])
    etag = property(lambda self: self[2])
    last_modified = property(lambda self: self[3])


def _list_names(fs: fsspec.AbstractFileSystem, folder: str) -> list[str]:
    """Names directly inside `folder`; none when it does not exist (object stores have no empty folders:
    a source's prefix appears with its first part)."""
    try:
        return [posixpath.basename(p.rstrip("/")) for p in fs.ls(folder, detail=False)]
    except FileNotFoundError:
        return []


def _source_parts(fs: fsspec.AbstractFileSystem, source_dir: str) -> list[str]:
    return sorted(posixpath.join(source_dir, n) for n in _list_names(fs, source_dir) if PART_RE.match(n))


def _index_from_parts(fs: fsspec.AbstractFileSystem, parts: list[str]) -> dict[str, StoredEntry]:
    index: dict[str, StoredEntry] = {}
    for part in parts:  # in part order: later parts hold newer versions
        table = read_columns(part, ["url", "sha256", "fetched_at", "meta"], files=FsspecFiles(fs))
        for url, sha, fetched_at, meta in zip(*(table.column(c).to_pylist() for c in table.column_names)):
            m = json.loads(meta or "{}")
            index[url] = StoredEntry(sha, fetched_at, m.get("http_etag"), m.get("http_last_modified"))
    return index


class RawStoreWriter:
    """Append raw records of one source to ROOT/<source>/ as Parquet parts.

    `add()` buffers; a part is written when the buffer holds `flush_records` records or
    `flush_bytes` bytes of content, and on `flush()`/`close()`. Records whose URL is already
    stored with the same sha256 are not written again (`add` returns False).
    """

    def __init__(self, root: str | os.PathLike, source: str, *, flush_records: int = 64,
                 flush_bytes: int = 32 * 1024 * 1024):
        if not _SOURCE_RE.match(source):
            raise RawStoreError(f"source name {source!r} must match {_SOURCE_RE.pattern}")
        self.root = str(root)
        self.source = source
        self.flush_records = max(1, int(flush_records))
        self.flush_bytes = max(1, int(flush_bytes))
        self._fs, base = _fs_and_path(root)
        self._dir = posixpath.join(base, source)
        self._fs.makedirs(self._dir, exist_ok=True)
        self._remove_orphan_temps()
        self._parts = _source_parts(self._fs, self._dir)
        self._visited: dict[str, list[str]] = {}
        self._index = self._load_index()
        self._pending_visited: dict[str, list[str]] = {}
        self._buffer: list[RawRecord] = []
        self._buffer_bytes = 0
        self._pending: dict[str, str] = {}
        self.parts_written: list[str] = []
        self.records_written = 0

    # -- index -------------------------------------------------------------------------------
    def _remove_orphan_temps(self) -> None:
        for name in _list_names(self._fs, self._dir):
            if name.startswith(".") and ".tmp-" in name:
                log.info("raw store %s: removing orphan temp file %s (an interrupted write)", self.source, name)
                self._fs.rm(posixpath.join(self._dir, name))

    def _load_index(self) -> dict[str, StoredEntry]:
        path = posixpath.join(self._dir, INDEX_NAME)
        names = [posixpath.basename(p) for p in self._parts]
        if self._fs.exists(path):
            try:
                with self._fs.open(path, "rb") as fh:
                    cached = json.loads(fh.read())
                if cached.get("parts") == names:
                    self._visited = {u: list(v) for u, v in cached.get("visited", {}).items()}
                    return {u: StoredEntry(*v) for u, v in cached["urls"].items()}
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("raw store %s: index unreadable (%s); rebuilding from parts", self.source, exc)
        return _index_from_parts(self._fs, self._parts)

    def _save_index(self) -> None:
        data = {"parts": [posixpath.basename(p) for p in self._parts],
                "visited": dict(sorted(self._visited.items())),
                "urls": {u: list(e) for u, e in sorted(self._index.items())}}
        _atomic_write_bytes(self._fs, posixpath.join(self._dir, INDEX_NAME),
                            json.dumps(data, sort_keys=True).encode())

    def stored(self, url: str) -> StoredEntry | None:
        """The newest stored (or buffered) version of `url`, or None."""
        if url in self._pending:
            return StoredEntry(self._pending[url], "", None, None)
        return self._index.get(url)

    def __contains__(self, url: str) -> bool:
        return self.stored(url) is not None

    def mark_visited(self, url: str, links: list[str]) -> None:
        """Remember a page that is not stored itself (a landing page) and the links it gave, so a
        resumed crawl can skip it once those links are stored. Persisted with the next part."""
        self._pending_visited[url] = list(links)
        if not self._buffer:  # nothing to write a part for: persist now
            self._visited.update(self._pending_visited)
            self._pending_visited = {}
            self._save_index()

    def visited(self, url: str) -> list[str] | None:
        if url in self._pending_visited:
            return self._pending_visited[url]
        return self._visited.get(url)

    def stored_urls(self) -> set[str]:
        return set(self._index) | set(self._pending)

    # -- writing -----------------------------------------------------------------------------
    def add(self, record: RawRecord) -> bool:
        """Buffer a record; False when the same URL is already stored with the same content."""
        if record.source != self.source:
            raise RawStoreError(f"record of source {record.source!r} given to the writer of {self.source!r}")
        record.validate()
        previous = self.stored(record.url)
        if previous is not None and previous.sha256 == record.sha256:
            return False
        self._buffer.append(record)
        self._pending[record.url] = record.sha256
        self._buffer_bytes += len(record.content)
        if len(self._buffer) >= self.flush_records or self._buffer_bytes >= self.flush_bytes:
            self.flush()
        return True

    def flush(self) -> str | None:
        """Write the buffered records as one new part; returns its path (None if nothing buffered)."""
        if not self._buffer:
            return None
        seq = 0
        if self._parts:
            seq = int(PART_RE.match(posixpath.basename(self._parts[-1])).group(1)) + 1
        path = posixpath.join(self._dir, f"part-{seq:06d}.parquet")
        table = pa.Table.from_pylist([r.to_row() for r in self._buffer], schema=RAW_SCHEMA)
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        _atomic_write_bytes(self._fs, path, sink.getvalue().to_pybytes())
        self._parts.append(path)
        for r in self._buffer:
            m = r.meta_dict()
            self._index[r.url] = StoredEntry(r.sha256, r.fetched_at, m.get("http_etag"), m.get("http_last_modified"))
        self.records_written += len(self._buffer)
        self.parts_written.append(path)
        self._buffer, self._buffer_bytes, self._pending = [], 0, {}
        self._visited.update(self._pending_visited)
        self._pending_visited = {}
        self._save_index()
        return path

    def write_last_scrape(self, summary: dict[str, Any]) -> None:
        _atomic_write_bytes(self._fs, posixpath.join(self._dir, LAST_SCRAPE_NAME),
                            json.dumps(summary, sort_keys=True, indent=1).encode())

    def close(self) -> None:
        self.flush()

    def __enter__(self) -> "RawStoreWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # Flush even on error: what was fetched is good data; resume needs it.
        self.close()


# -- the scrape summary ---------------------------------------------------------------------
def read_last_scrape(root: str | os.PathLike, source: str) -> dict[str, Any] | None:
    fs, base = _fs_and_path(root)
    path = posixpath.join(base, source, LAST_SCRAPE_NAME)
    if not fs.exists(path):
        return None
    with fs.open(path, "rb") as fh:
        return json.loads(fh.read())
