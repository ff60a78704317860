"""Bytes -> text for fetched web pages: BOM, valid UTF-8, declared charset, detection, cp1252, mojibake repair.

Order of trust (`decode_page`), each choice recorded as (encoding, origin, confidence):
1. a byte-order mark (`bom`): unambiguous, and it overrides any label (as in the WHATWG encoding standard);
2. valid UTF-8 (`utf-8`): by far the most common case, and non-ASCII text almost never decodes as UTF-8
   by accident, while wrong charset labels on UTF-8 pages are common;
3. the charset the page declares: the HTTP header (`declared-http`, stored in the raw record's meta by
   the crawler) then `<meta charset>` / the XML declaration (`declared-meta`), if the bytes decode;
   then UTF-8 with at most 2% of its non-ASCII characters broken (`utf-8-lossy`, U+FFFD for those);
4. undeclared single-byte text: when charset-normalizer's best guess is any Latin-script single-byte
   encoding, cp1252 (`latin-default`) if the bytes are valid cp1252. Such guesses are a coin toss
   between cp1252/cp1250/mac_* on short pages (e.g. "naïve" read as cp1250 becomes "naďve"), and
   undeclared Latin pages are overwhelmingly Windows-1252 / ISO-8859-1 (which browsers read as cp1252);
   another Latin table wins only when it reads clearly less chaotically (`detected`);
5. another script's encoding (Cyrillic, Greek, CJK...) only when charset-normalizer is confident
   (`detected`, confidence = 1 - its chaos ratio >= MIN_DETECT_CONFIDENCE);
6. otherwise cp1252 with the 5 undefined bytes replaced (`fallback`, confidence 0).
After decoding, text that was UTF-8 read as cp1252 somewhere upstream ("â€™" for "'") is repaired.
"""
from __future__ import annotations

import codecs
import dataclasses
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

# Python codec names of Latin-script single-byte encodings: a detector's pick among these is a guess
# between near-identical tables, so cp1252 is preferred (see the module docstring, step 4).
LATIN_SINGLE_BYTE = frozenset(codecs.lookup(name).name for name in {
    "cp1250", "cp1252", "cp1254", "cp1257", "cp1258", "latin_1", "iso8859_2", "iso8859_3", "iso8859_4",
    "iso8859_9", "iso8859_10", "iso8859_13", "iso8859_14", "iso8859_15", "iso8859_16", "mac_roman",
    "mac_latin2", "mac_iceland", "mac_turkish", "mac_croatian", "mac_romanian", "cp437", "cp775", "cp850",
    "cp852", "cp857", "cp858", "cp860", "cp861", "cp863", "cp865", "ascii", "hp_roman8"})  # as codecs names them
MIN_DETECT_CONFIDENCE = 0.9
MAX_BROKEN_UTF8 = 0.02     # share of non-ASCII characters that may be broken in "mostly UTF-8" text
LATIN_CHAOS_MARGIN = 0.05  # how much less chaotic (charset-normalizer) another Latin reading must be
ORIGINS = ("bom", "utf-8", "declared-http", "declared-meta", "utf-8-lossy", "latin-default", "detected", "fallback")
GUESSED_ORIGINS = ("utf-8-lossy", "latin-default", "detected", "fallback")  # nothing in or about the page said so


@dataclasses.dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str        # Python codec name actually used
    origin: str          # one of ORIGINS
    confidence: float    # 1.0 for a BOM, valid UTF-8 or a declaration that decodes; else the detector's

    def meta(self) -> dict:
        """What a document's meta records about its decoding."""
        return {"encoding": self.encoding, "encoding_origin": self.origin,
                "encoding_confidence": round(self.confidence, 3)}


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
    decoded = decode_page(raw, declared)
    return decoded.text, decoded.encoding


def decode_page(raw: bytes, declared: str | None = None) -> Decoded:
    """Decode page bytes, saying which encoding was used, why, and how sure (module docstring)."""
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return Decoded(raw[len(bom):].decode(name, errors="replace"), name, "bom", 1.0)
    try:
        return Decoded(repair_mojibake(raw.decode("utf-8")), "utf-8", "utf-8", 1.0)
    except UnicodeDecodeError:
        pass
    candidates = []
    if declared:
        label = _normalise_label(declared)
        if label:
            candidates.append((label, "declared-http"))
    in_page = declared_charset(raw)
    if in_page:
        candidates.append((in_page, "declared-meta"))
    for name, origin in candidates:
        if name in ("utf-8", "utf_8"):
            continue  # already known not to be valid UTF-8
        try:
            return Decoded(raw.decode(name), name, origin, 1.0)
        except (UnicodeDecodeError, LookupError):
            continue
    lossy = _mostly_utf8(raw)
    if lossy is not None:
        return lossy
    guessed = _detect(raw)
    if guessed is not None:
        return guessed
    # cp1252 leaves 5 bytes undefined; replace those rather than fail the whole page.
    return Decoded(raw.decode("cp1252", errors="replace"), "cp1252", "fallback", 0.0)


def _mostly_utf8(raw: bytes) -> Decoded | None:
    """UTF-8 with a few broken sequences (a page cut or pasted together): UTF-8 with U+FFFD for the
    broken bytes, confidence = share of non-ASCII characters that decoded. Single-byte text read as
    UTF-8 fails on nearly every non-ASCII byte, so the threshold separates the two cleanly."""
    text = raw.decode("utf-8", errors="replace")
    broken = text.count("\ufffd") - raw.count("\ufffd".encode("utf-8"))
    non_ascii = sum(1 for ch in text if ord(ch) > 127)
    if non_ascii and broken / non_ascii <= MAX_BROKEN_UTF8:
        return Decoded(repair_mojibake(text), "utf-8", "utf-8-lossy", 1.0 - broken / non_ascii)
    return None


def _detect(raw: bytes) -> Decoded | None:
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # optional: requests pulls it in, but the pipeline does not need it
        return None
    matches = from_bytes(raw[:200_000])
    best = matches.best()
    if best is None:
        return None
    name = _normalise_label(best.encoding)
    if name in LATIN_SINGLE_BYTE:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError:
            pass  # bytes cp1252 leaves undefined: not cp1252, judge the detector's pick on its own
        else:
            # charset-normalizer folds encodings that give the same text into one match (`could_be_from_charset`).
            cp1252 = next((m for m in matches if "cp1252" in {_normalise_label(e) for e in m.could_be_from_charset}),
                          None)
            cp1252_chaos = cp1252.chaos if cp1252 is not None else 1.0
            # Only a clearly less chaotic Latin reading beats cp1252 (Polish "zażółć" in cp1250 reads as
            # "za¿ó³æ" in cp1252); on a tie or a near-tie, which is the usual case, cp1252 wins.
            if name == "cp1252" or best.chaos + LATIN_CHAOS_MARGIN > cp1252_chaos:
                return Decoded(repair_mojibake(text), "cp1252", "latin-default", max(0.0, 1.0 - cp1252_chaos))
    confidence = max(0.0, 1.0 - best.chaos)
    if name and confidence >= MIN_DETECT_CONFIDENCE:
        try:
            return Decoded(raw.decode(name), name, "detected", confidence)
        except (UnicodeDecodeError, LookupError):
            return None
    return None


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
