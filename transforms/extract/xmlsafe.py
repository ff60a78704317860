"""Safe XML parsing for untrusted bulk files (JATS, MEDLINE).

Every parser here has entity resolution, DTD loading and network access off and libxml2's tree-size
limits on (`huge_tree=False`). Files that declare entities in an internal DTD subset (how XXE and
"billion laughs" attacks are built) are refused before parsing, so nothing is ever expanded or
fetched. Truncated, mis-encoded and non-XML input raises `ExtractError` with libxml2's message; the
pipeline quarantines the record with it.

Standard named character references that JATS/NLM DTDs define (`&minus;`, `&rsqb;`...) are kept by
libxml2 as entity-reference nodes when the DTD is not loaded; `entity_text` maps them from a fixed
table (HTML5's), never from the document.
"""
from __future__ import annotations

import gzip
import html.entities
import io
import re
import zlib
from typing import IO, Iterator

from lxml import etree

from transforms.extract.errors import ExtractError

GZIP_MAGIC = b"\x1f\x8b"
# Decompressed XML larger than this is refused (a gzip bomb guard); MEDLINE baseline files are ~200 MB.
MAX_DECOMPRESSED_BYTES = 1 << 30

_PARSER_OPTIONS = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                       dtd_validation=False, remove_pis=True, remove_comments=True)
_INTERNAL_SUBSET = re.compile(rb"<!DOCTYPE[^\[>]*\[", re.IGNORECASE)
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_ENTITY_TABLE = {name.rstrip(";"): text for name, text in html.entities.html5.items()}


def safe_parser() -> etree.XMLParser:
    return etree.XMLParser(**_PARSER_OPTIONS)


def is_gzip(content: bytes) -> bool:
    return content[:2] == GZIP_MAGIC


def gunzip_bounded(content: bytes, max_bytes: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """Whole-buffer gunzip with a size cap; raises ExtractError on corrupt or oversized data."""
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decomp.decompress(content, max_bytes + 1)
    except zlib.error as exc:
        raise ExtractError(f"corrupt gzip data: {exc}") from exc
    if len(out) > max_bytes:
        raise ExtractError(f"gzip content expands beyond {max_bytes} bytes")
    if not decomp.eof:
        raise ExtractError("truncated gzip data")
    return out


def maybe_gunzip(content: bytes, max_bytes: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """The content itself, or its decompression when it starts with the gzip magic number."""
    return gunzip_bounded(content, max_bytes) if is_gzip(content) else content


def check_prolog(head: bytes) -> None:
    """Refuse documents whose DOCTYPE has an internal subset declaring entities (XXE, billion laughs)."""
    stripped = head.lstrip()
    if stripped.startswith(b"\xff\xfe") or stripped.startswith(b"\xfe\xff"):
        # UTF-16: decode the prolog to look for the same patterns.
        head = head.decode("utf-16", errors="ignore").encode("utf-8")
    match = _INTERNAL_SUBSET.search(head)
    if match and _ENTITY_DECL.search(head, match.end()):
        raise ExtractError("XML declares entities in an internal DTD subset (refused: XXE/entity expansion)")


def _first_bytes_before_root(content: bytes, limit: int = 1 << 16) -> bytes:
    return content[:limit]


def parse_xml(content: bytes) -> etree._Element:
    """Parse a whole XML document (gzip accepted) safely; raises ExtractError on any problem."""
    data = maybe_gunzip(content)
    if not data.strip():
        raise ExtractError("empty XML document")
    check_prolog(_first_bytes_before_root(data))
    try:
        root = etree.fromstring(data, safe_parser())
    except etree.XMLSyntaxError as exc:
        raise ExtractError(f"XML syntax error: {exc}") from exc
    except (ValueError, etree.LxmlError) as exc:
        raise ExtractError(f"XML parse error: {exc}") from exc
    if root is None:
        raise ExtractError("XML document has no root element")
    _refuse_declared_entities(root)
    return root


def _refuse_declared_entities(root: etree._Element) -> None:
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise ExtractError("XML declares entities in an internal DTD subset (refused: XXE/entity expansion)")


def open_stream(source: "bytes | str | IO[bytes]") -> IO[bytes]:
    """A binary stream over bytes, a file path or a file object; gzip detected by magic number."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        stream: IO[bytes] = io.BytesIO(bytes(source))
    elif isinstance(source, str):
        stream = open(source, "rb")
    else:
        stream = source
    head = stream.peek(2)[:2] if hasattr(stream, "peek") else None
    if head is None:
        pos = stream.tell()
        head = stream.read(2)
        stream.seek(pos)
    if head == GZIP_MAGIC:
        return _BoundedReader(gzip.GzipFile(fileobj=stream), MAX_DECOMPRESSED_BYTES)
    return stream


class _BoundedReader(io.RawIOBase):
    """Read-through wrapper that fails once more than `limit` bytes came out (gzip bomb guard)."""

    def __init__(self, inner: IO[bytes], limit: int):
        self._inner = inner
        self._left = limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._inner.read(size if size is not None and size >= 0 else 1 << 20)
        except (OSError, EOFError, zlib.error) as exc:
            raise ExtractError(f"corrupt or truncated gzip data: {exc}") from exc
        self._left -= len(data)
        if self._left < 0:
            raise ExtractError("gzip content expands beyond the decompression limit")
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def iter_elements(source: "bytes | str | IO[bytes]", tags: tuple[str, ...]) -> Iterator[etree._Element]:
    """Stream the complete elements named `tags` that are children of the root element (records), each
    cleared once the caller moves on, so memory stays bounded by one record. Raises ExtractError on syntax errors, truncation and refused prologs."""
    stream = open_stream(source)
    head = _PeekingReader(stream)
    check_prolog(head.prefix)
    context = etree.iterparse(head, events=("end",), tag=tags, resolve_entities=False, no_network=True,
                              load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True)
    try:
        for _event, elem in context:
            parent = elem.getparent()
            if parent is not None and parent.getparent() is not None:
                continue  # nested inside a record (e.g. MedlineCitation in PubmedArticle): its parent's
            yield elem
            elem.clear(keep_tail=False)
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise ExtractError(f"XML syntax error: {exc}") from exc
    finally:
        if isinstance(source, str):
            stream.close()


class _PeekingReader(io.RawIOBase):
    """Reads the first 64 KiB up front (to check the prolog) then serves them back before the rest."""

    def __init__(self, inner: IO[bytes], size: int = 1 << 16):
        self._inner = inner
        chunks, got = [], 0
        while got < size:
            chunk = inner.read(size - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        self.prefix = b"".join(chunks)
        self._buffer = self.prefix

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._buffer:
            if size is None or size < 0:
                data, self._buffer = self._buffer + self._inner.read(), b""
                return data
            data, self._buffer = self._buffer[:size], self._buffer[size:]
            return data
        return self._inner.read(size if size is not None and size >= 0 else -1)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def entity_text(node: etree._Entity) -> str:
    """The character(s) of a standard named or numeric reference left unresolved by the parser."""
    name = node.name
    if name.startswith("#"):
        try:
            code = int(name[2:], 16) if name[1:2] in ("x", "X") else int(name[1:])
            return chr(code)
        except (ValueError, OverflowError):
            return ""
    return _ENTITY_TABLE.get(name, "")
