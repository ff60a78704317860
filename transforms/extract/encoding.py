"""Bytes -> text for fetched web pages: BOM, declared charset, detection, cp1252 and mojibake repair.

Order of trust: a byte-order mark, then a valid UTF-8 decode (the most common case and one that
almost never succeeds by accident), then the charset the page declares (HTTP header in meta, or
<meta charset>), then charset-normalizer's guess, then cp1252 (what "latin-1" pages really are).
After decoding, text that was UTF-8 read as cp1252 somewhere upstream ("â€™" for "'") is repaired.
"""
from __future__ import annotations

import codecs
import re

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_\-:.]+)""", re.IGNORECASE)

# Labels whose real-world meaning is a superset (WHATWG encoding standard): latin-1 pages are cp1252.
_ALIASES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252",
            "ascii": "cp1252", "iso8859-1": "cp1252", "l1": "cp1252", "x-sjis": "shift_jis"}


def _normalise_label(label: str) -> str | None:
    label = label.strip().lower()
    label = _ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def declared_charset(raw: bytes) -> str | None:
    """The charset a page declares in its first 4 KiB (<meta charset> or the XML declaration)."""
    head = raw[:4096]
    for pattern in (_META_CHARSET, _XML_ENCODING):
        match = pattern.search(head)
        if match:
            name = _normalise_label(match.group(1).decode("ascii", "ignore"))
            if name:
                return name
    return None


def decode_bytes(raw: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode page bytes; returns (text, encoding used). `declared` is e.g. the HTTP header charset."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return raw[len(bom):].decode(name, errors="replace"), name
    try:
        return repair_mojibake(raw.decode("utf-8")), "utf-8"
    except UnicodeDecodeError:
        pass
    candidates = []
    if declared:
        label = _normalise_label(declared)
        if label:
            candidates.append(label)
    in_page = declared_charset(raw)
    if in_page:
        candidates.append(in_page)
    for name in candidates:
        if name in ("utf-8", "utf_8"):
            continue  # already known not to be valid UTF-8
        try:
            return raw.decode(name), name
        except (UnicodeDecodeError, LookupError):
            continue
    guess = _detect(raw)
    if guess:
        try:
            return raw.decode(guess), guess
        except (UnicodeDecodeError, LookupError):
            pass
    # cp1252 leaves 5 bytes undefined; replace those rather than fail the whole page.
    return raw.decode("cp1252", errors="replace"), "cp1252"


def _detect(raw: bytes) -> str | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # optional: requests pulls it in, but the pipeline does not need it
        return None
    best = from_bytes(raw[:200_000]).best()
    return _normalise_label(best.encoding) if best is not None else None


# UTF-8 lead byte read as cp1252 (Ã, Â, â, ...) followed by continuation bytes read as cp1252.
_MOJIBAKE = re.compile("[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
                       "\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]{1,3}")


def _cp1252_bytes(text: str) -> bytes | None:
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            code = ord(ch)
            if code <= 0xFF:  # the 5 bytes cp1252 leaves undefined pass through as latin-1
                out.append(code)
            else:
                return None
    return bytes(out)


def repair_mojibake(text: str) -> str:
    """Undo UTF-8-read-as-cp1252 ("Ã©" -> "é", "â€™" -> "’") sequence by sequence; a sequence that
    does not re-decode as valid UTF-8 is left alone, so genuine "Ã" in text survives."""
    if not _MOJIBAKE.search(text):
        return text

    def fix(match: re.Match) -> str:
        chunk = match.group(0)
        raw = _cp1252_bytes(chunk)
        if raw is None:
            return chunk
        # Try the longest valid prefix: the regex may have taken a following real character.
        for end in range(len(raw), 1, -1):
            try:
                fixed = raw[:end].decode("utf-8")
            except UnicodeDecodeError:
                continue
            rest = raw[end:].decode("cp1252", errors="replace") if end < len(raw) else ""
            return fixed + rest
        return chunk

    return _MOJIBAKE.sub(fix, text)
