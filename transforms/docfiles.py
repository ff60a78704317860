"""Per-part document files: how full texts travel between build phases without a shuffle.

A build reads each raw-store part in one DoFn call and writes the documents it yields, in row order, to
one Parquet file named after the part (`part-NNNNNN.parquet`). The next phase reads the same file, again
in one call, so a document's text is only ever streamed through fused per-document code: cross-document
decisions travel as small key records and meet the text again by (part number, row number).

Memory is bounded by one row batch on read and one row group on write, whatever the part's size.
Files are written to a temporary name and renamed, so a phase killed mid-file leaves no half file under
the final name (and a rerun of the phase rewrites it).
"""
from __future__ import annotations

from typing import Iterable, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from schemas.document import DOCUMENT_SCHEMA, Document

ROW_GROUP = 256  # documents per Parquet row group: bounds the writer's buffer
READ_BATCH = 64


def part_file(folder: str, part: int) -> str:
    return FileSystems.join(folder, f"part-{part:06d}.parquet")


class DocumentFileError(ValueError):
    """A part file that cannot be read back as documents (truncated, not Parquet, another schema)."""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())  # Arrow's messages span lines; the error is one


def _open_checked(fh, path: str) -> pq.ParquetFile:
    """A reader over an open part file once its footer and columns say it is a whole document file."""
    try:
        reader = pq.ParquetFile(fh, pre_buffer=False)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DocumentFileError(f"{path}: not a complete document file ({_one_line(exc)}); the phase that wrote it "
                                "must be rerun") from None
    if reader.schema_arrow.names != DOCUMENT_SCHEMA.names:
        raise DocumentFileError(f"{path}: not a document file: its columns are {reader.schema_arrow.names}, "
                                f"not {DOCUMENT_SCHEMA.names}")
    return reader


def check_document_file(path: str) -> int:
    """The row count of a part file, reading only its footer; `DocumentFileError` when it is missing,
    truncated or another kind of file (what a resumed build checks before it reuses a finished phase)."""
    try:
        fh = FileSystems.open(path)
    except (OSError, IOError) as exc:
        raise DocumentFileError(f"{path}: cannot be opened ({exc}); the phase that wrote it must be rerun") from None
    with fh:
        return _open_checked(fh, path).metadata.num_rows


def read_documents(path: str) -> Iterator[Document]:
    """The documents of one part file, in the order they were written; `DocumentFileError` naming the
    file when it is not a complete document file."""
    with FileSystems.open(path) as fh:
        # A Python file object: read in this thread only (schemas.raw.read_parquet_file says why).
        reader = _open_checked(fh, path)
        batches = reader.iter_batches(batch_size=READ_BATCH, use_threads=False)
        row = 0
        while True:
            try:  # a damaged page or column chunk inside a file whose footer is whole
                batch = next(batches, None)
            except (pa.ArrowException, OSError) as exc:
                raise DocumentFileError(f"{path}: damaged after its first {row} documents ({_one_line(exc)}); "
                                        "the phase that wrote it must be rerun") from None
            if batch is None:
                return
            for values in batch.to_pylist():
                row += 1
                yield Document.from_row(values)


class DocumentWriter:
    """Streams documents into one Parquet file (zstd), `ROW_GROUP` at a time.

    Local files are written beside the target and renamed on `close()`; object stores publish an
    object only once its upload completes, so they are written in place."""

    def __init__(self, path: str):
        self.path = path
        self.count = 0
        self._buffer: list[dict] = []
        self._local = "://" not in path
        if self._local:
            import os
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            self._tmp = path + ".tmp"
            self._sink = open(self._tmp, "wb")
        else:  # streamed upload: the object appears when the handle closes
            self._sink = FileSystems.create(path)
        self._writer = pq.ParquetWriter(self._sink, DOCUMENT_SCHEMA, compression="zstd")

    def add(self, doc: Document) -> None:
        self._buffer.append(doc.to_row())
        self.count += 1
        if len(self._buffer) >= ROW_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._buffer:
            self._writer.write_table(pa.Table.from_pylist(self._buffer, schema=DOCUMENT_SCHEMA))
            self._buffer = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
        self._sink.close()
        if self._local:
            import os
            os.replace(self._tmp, self.path)

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            if self._local:
                import os
                self._sink.close()
                try:
                    os.remove(self._tmp)
                except FileNotFoundError:
                    pass


def write_documents(path: str, docs: Iterable[Document]) -> int:
    writer = DocumentWriter(path)
    try:
        for doc in docs:
            writer.add(doc)
    except BaseException:
        writer.abort()
        raise
    writer.close()
    return writer.count
