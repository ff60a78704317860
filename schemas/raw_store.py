"""Reading a raw store: the one reader, used by the build and by the scrapers' writer, tools and tests.

Layout (written by `scrapers.raw_store.RawStoreWriter`): `ROOT/<source>/part-NNNNNN.parquet`, rows of
`schemas.raw.RAW_SCHEMA`. Any `*.parquet` below ROOT counts as a part (hand-made stores), except names
with a path piece starting with "." or "_" (temp files, caches such as `_bulk/`). Parts are read in
sorted path order and rows in file order, so the last version of a (source, url) is the newest: a
re-crawl appends a changed page instead of rewriting a part.

Files are reached through `files`: `BEAM` (Beam's FileSystems, the default — the build's own, so a
pipeline's filesystem options apply to gs:// and s3:// stores) or `FSSPEC` (what the scrapers write
with: any fsspec URL, memory:// included). Both are imported only when used, so this module needs
only pyarrow to import. Every Parquet read is done in the calling thread (`schemas.raw.read_parquet_file`
says why), one row batch at a time.
"""
from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import IO, Iterable, Iterator, NamedTuple

import pyarrow as pa

from schemas.raw import RawRecord, RawRecordError, read_parquet_file, validate_raw_table

READ_BATCH = 64  # rows per Parquet batch: bounds what one part read holds


class RawStoreError(RuntimeError):
    """The raw store is missing or unreadable, or a record breaks the contract; the message names it."""


class BeamFiles:
    """Beam's FileSystems: local paths, and gs:// / s3:// configured by the running pipeline's options."""

    def find(self, root: str) -> list[tuple[str, str]]:
        """(path, path relative to `root`) of every `*.parquet` file at or below `root`."""
        if "://" not in root:
            if os.path.isfile(root):
                return [(root, os.path.basename(root))]
            if not os.path.isdir(root):
                raise RawStoreError(f"raw store not found: {root}")
            return [(str(p), p.relative_to(root).as_posix()) for p in Path(root).rglob("*.parquet")]
        from apache_beam.io.filesystems import FileSystems
        try:
            found = [m.path for m in FileSystems.match([FileSystems.join(root, "**.parquet")])[0].metadata_list]
        except Exception as exc:  # no filesystem for the scheme, credentials, network: say which path
            raise RawStoreError(f"raw store {root} cannot be listed: {exc}") from exc
        prefix = root.rstrip("/") + "/"
        return [(p, p[len(prefix):] if p.startswith(prefix) else posixpath.basename(p)) for p in found]

    def open(self, path: str) -> IO[bytes]:
        from apache_beam.io.filesystems import FileSystems
        return FileSystems.open(path)


def fs_and_path(root: str | os.PathLike):
    """(fsspec filesystem, path without protocol) of a local path or fsspec URL."""
    import fsspec
    fs, path = fsspec.core.url_to_fs(str(root))
    return fs, path.rstrip("/") or "/"


class FsspecFiles:
    """fsspec's filesystems: what `scrapers.raw_store` writes with (local, memory://, gs://, s3://, ...).
    With `fs`, paths are that filesystem's own (no protocol), as a writer holding it lists them."""

    def __init__(self, fs=None):
        self._fs = fs

    def find(self, root: str) -> list[tuple[str, str]]:
        if self._fs is not None:
            raise NotImplementedError("list a store from its URL: FsspecFiles() without a filesystem")
        fs, base = fs_and_path(root)
        if not fs.exists(base):
            raise RawStoreError(f"raw store not found: {root}")
        if fs.isfile(base):
            found = [base]
        else:
            found = fs.glob(posixpath.join(base, "**", "*.parquet")) + fs.glob(posixpath.join(base, "*.parquet"))
        # Paths keep the root's protocol when it is a URL, so they open again from the same filesystem.
        protocol = root.split("://", 1)[0] + "://" if "://" in root else ""
        return [(protocol + p if protocol and not p.startswith(protocol) else p,
                 posixpath.relpath(p, base) if p != base else posixpath.basename(p)) for p in found]

    def open(self, path: str) -> IO[bytes]:
        if self._fs is not None:
            return self._fs.open(path, "rb")
        fs, p = fs_and_path(path)
        return fs.open(p, "rb")


BEAM = BeamFiles()
FSSPEC = FsspecFiles()


def select_parts(found: Iterable[tuple[str, str]], sources: Iterable[str] | None = None) -> list[str]:
    """Which of the Parquet files found ((path, path relative to the root) pairs) are parts (of `sources`,
    when given: the first folder below the root), in read order."""
    wanted = set(sources) if sources is not None else None
    keep = set()
    for path, relative in found:
        pieces = relative.split("/")
        if any(piece.startswith((".", "_")) for piece in pieces):
            continue
        if wanted is not None and (len(pieces) < 2 or pieces[0] not in wanted):
            continue
        keep.add(path)
    return sorted(keep)


def list_parts(root: str | os.PathLike, *, sources: Iterable[str] | None = None, check: bool = False,
               files=BEAM) -> list[str]:
    """Every part of the store below `root`, sorted. With `check` (a build's input), the store must hold
    parts and each must open with the raw-record columns; RawStoreError names the first that does not."""
    root = str(root)
    parts = select_parts(files.find(root), sources)
    if check:
        if not parts:
            raise RawStoreError(f"raw store {root} holds no Parquet parts")
        for part in parts:
            check_part(part, files=files)
    return parts


def check_part(path: str, *, files=BEAM) -> None:
    """Raise RawStoreError unless the part opens as Parquet with the raw-record columns."""
    import pyarrow.parquet as pq
    try:
        with files.open(path) as fh:
            schema = pq.ParquetFile(fh, pre_buffer=False).schema_arrow
    except Exception as exc:  # pyarrow raises several types for a damaged footer
        raise RawStoreError(f"raw store part {path} is unreadable: {exc}") from exc
    try:
        validate_raw_table(schema)
    except RawRecordError as exc:
        raise RawStoreError(f"raw store part {path}: {exc}") from exc


class RawRow(NamedTuple):
    """One row of a part: its number, the row as read, and the record, or the error that makes it invalid."""
    row_number: int
    row: dict
    record: RawRecord | None
    error: str | None


def iter_raw_rows(path: str, *, files=BEAM) -> Iterator[RawRow]:
    """Every row of a part, in file order, valid or not (the build quarantines the invalid ones)."""
    import pyarrow.parquet as pq
    row_number = -1
    with files.open(path) as fh:
        # A Python file object: read in this thread only (schemas.raw.read_parquet_file says why).
        for batch in pq.ParquetFile(fh, pre_buffer=False).iter_batches(batch_size=READ_BATCH, use_threads=False):
            for row in batch.to_pylist():
                row_number += 1
                try:
                    record = RawRecord.from_row(row)
                    record.validate()
                except (RawRecordError, TypeError) as exc:
                    yield RawRow(row_number, row, None, str(exc))
                    continue
                yield RawRow(row_number, row, record, None)


def read_part(path: str, *, files=BEAM) -> Iterator[RawRecord]:
    """The records of one part, in file order; RawStoreError names the first invalid row."""
    for row_number, _row, record, error in iter_raw_rows(path, files=files):
        if error is not None:
            raise RawStoreError(f"raw store part {path} row {row_number}: {error}")
        yield record


def read_columns(path: str, columns: list[str], *, files=BEAM) -> pa.Table:
    """Some columns of one part (keys, checksums), read in the calling thread."""
    with files.open(path) as fh:
        return read_parquet_file(fh, columns=columns)


def latest_versions(parts: list[str], *, files=BEAM) -> set[tuple[int, int]]:
    """(part number, row number) of the newest version of each (source, url) across `parts`."""
    newest: dict[tuple[str, str], tuple[int, int]] = {}
    for i, part in enumerate(parts):
        table = read_columns(part, ["source", "url"], files=files)
        for j, key in enumerate(zip(table.column("source").to_pylist(), table.column("url").to_pylist())):
            newest[key] = (i, j)
    return set(newest.values())


def read_raw_store(root: str | os.PathLike, *, sources: Iterable[str] | None = None, all_versions: bool = False,
                   files=BEAM) -> Iterator[RawRecord]:
    """Every record of the store in deterministic order (part path, then row); by default only the
    newest version of each (source, url)."""
    parts = list_parts(root, sources=sources, files=files)
    keep = None if all_versions else latest_versions(parts, files=files)
    for i, part in enumerate(parts):
        for j, record in enumerate(read_part(part, files=files)):
            if keep is None or (i, j) in keep:
                yield record


__all__ = ["BEAM", "FSSPEC", "RawRow", "RawStoreError", "check_part", "iter_raw_rows", "latest_versions",
           "list_parts", "read_columns", "read_part", "read_raw_store", "select_parts"]
