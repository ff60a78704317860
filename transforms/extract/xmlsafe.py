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


DECOMPRESS_CHUNK = 1 << 20  # bytes of output per zlib call: memory grows by at most this past the limit


def iter_gunzip(content: bytes, max_bytes: int = MAX_DECOMPRESSED_BYTES) -> Iterator[bytes]:
    """Gunzip in output chunks of at most DECOMPRESS_CHUNK bytes, failing as soon as the running total
    passes `max_bytes` (a bomb is refused after producing max_bytes, never the whole expansion).
    Input goes in 64 KiB slices, so zlib's unconsumed tail (a copy) stays small too. Concatenated
    gzip members (as `gzip` writes them) are all read. Raises ExtractError."""
    total = 0
    view = memoryview(content)
    pos = 0
    decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)
    pending = b""
    while True:
        if not pending and pos < len(view):
            pending, pos = view[pos:pos + (1 << 16)], pos + (1 << 16)
        try:
            out = decomp.decompress(pending, DECOMPRESS_CHUNK)
        except zlib.error as exc:
            raise ExtractError(f"corrupt gzip data: {exc}") from exc
        total += len(out)
        if total > max_bytes:
            raise ExtractError(f"gzip content expands beyond {max_bytes} bytes "
                               "(extract.max_decompressed_bytes; refused as a possible gzip bomb)")
        if out:
            yield out
        pending = decomp.unconsumed_tail
        if decomp.eof:
            rest = bytes(decomp.unused_data) + bytes(view[pos:pos + (1 << 16)])
            pos += 1 << 16
            if not is_gzip(rest[:2]):
                return  # trailing bytes that are not another member are ignored, as gzip(1) does
            decomp = zlib.decompressobj(16 + zlib.MAX_WBITS)  # the next member
            pending = rest
        elif not out and not pending and pos >= len(view):
            raise ExtractError("truncated gzip data")


def gunzip_chunks(content: bytes, max_bytes: int = MAX_DECOMPRESSED_BYTES) -> list[bytes]:
    """All output chunks of `iter_gunzip` (never joined: a parser can be fed them one by one)."""
    return list(iter_gunzip(content, max_bytes))


def gunzip_bounded(content: bytes, max_bytes: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """Whole-buffer gunzip with a running size cap; raises ExtractError on corrupt or oversized data."""
    return b"".join(iter_gunzip(content, max_bytes))


def gunzip_head(content: bytes, size: int, max_bytes: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """The first `size` decompressed bytes (for sniffing), decompressing no more than needed."""
    head = bytearray()
    for chunk in iter_gunzip(content, max_bytes):
        head += chunk
        if len(head) >= size:
            break
    return bytes(head[:size])


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


def parse_xml(content: bytes, max_decompressed_bytes: int = MAX_DECOMPRESSED_BYTES) -> etree._Element:
    """Parse a whole XML document (gzip accepted) safely; raises ExtractError on any problem. Gzip input
    is decompressed under a running limit and fed to the parser chunk by chunk, never joined."""
    chunks = gunzip_chunks(content, max_decompressed_bytes) if is_gzip(content) else [content]
    if not any(chunk.strip() for chunk in chunks):
        raise ExtractError("empty XML document")
    head = bytearray()
    for chunk in chunks:
        head += chunk[:(1 << 16) - len(head)]
        if len(head) >= 1 << 16:
            break
    check_prolog(bytes(head))
    parser = safe_parser()
    try:
        for chunk in chunks:
            parser.feed(chunk)
        root = parser.close()
    except etree.XMLSyntaxError as exc:
        raise ExtractError(f"XML syntax error: {exc}") from exc
    except (ValueError, TypeError, etree.LxmlError) as exc:
        raise ExtractError(f"XML parse error: {exc}") from exc
    finally:
        chunks.clear()
    if root is None:
        raise ExtractError("XML document has no root element")
    _refuse_declared_entities(root)
    return root


def _refuse_declared_entities(root: etree._Element) -> None:
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise ExtractError("XML declares entities in an internal DTD subset (refused: XXE/entity expansion)")


def open_stream(source: "bytes | str | IO[bytes]", max_bytes: int = MAX_DECOMPRESSED_BYTES) -> IO[bytes]:
    """A binary stream over bytes, a file path or a file object; gzip detected by magic number and
    decompressed as it is read, refused once more than `max_bytes` came out."""
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
        return _BoundedReader(gzip.GzipFile(fileobj=stream), max_bytes)
    return stream


class _BoundedReader(io.RawIOBase):
    """Read-through wrapper that fails once more than `limit` bytes came out (gzip bomb guard)."""

    def __init__(self, inner: IO[bytes], limit: int):
        self._inner = inner
        self._limit = limit
        self._left = limit

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._inner.read(min(size, 1 << 20) if size is not None and size >= 0 else 1 << 20)
        except (OSError, EOFError, zlib.error) as exc:
            raise ExtractError(f"corrupt or truncated gzip data: {exc}") from exc
        self._left -= len(data)
        if self._left < 0:
            raise ExtractError(f"gzip content expands beyond {self._limit} bytes "
                               "(extract.max_decompressed_bytes; refused as a possible gzip bomb)")
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def iter_elements(source: "bytes | str | IO[bytes]", tags: tuple[str, ...],
                  max_decompressed_bytes: int = MAX_DECOMPRESSED_BYTES) -> Iterator[etree._Element]:
    """Stream the complete elements named `tags` that are children of the root element (records), each
    cleared once the caller moves on, so memory stays bounded by one record. Raises ExtractError on syntax errors, truncation and refused prologs."""
    stream = open_stream(source, max_decompressed_bytes)
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
