"""Byte decoding of pages (transforms/extract/encoding.py): BOMs, labels, origins, mojibake; what extract_html
records of it: test_html.py."""
from __future__ import annotations

from testkit.realdata import need
from transforms.extract.encoding import decode_bytes, repair_mojibake


def test_latin1_label_means_cp1252_and_bom_wins():
    text, enc = decode_bytes('<meta charset="iso-8859-1"><p>\u2019ok</p>'.encode("cp1252"))
    assert "\u2019ok" in text and enc == "cp1252"
    text, enc = decode_bytes(b"\xef\xbb\xbf<p>caf\xc3\xa9</p>")
    assert text == "<p>café</p>" and enc == "utf-8"
    text, enc = decode_bytes("\ufeff<p>Grüße</p>".encode("utf-16-le"))
    assert text == "<p>Grüße</p>" and enc == "utf-16-le"


def test_bom_utf8_lossy_and_fallback_origins():
    from transforms.extract.encoding import decode_page
    assert decode_page("\ufeff<p>Grüße</p>".encode("utf-16-le"), "iso-8859-1").origin == "bom"
    clean = decode_page("<p>naïve café</p>".encode("utf-8"), "windows-1250")
    assert (clean.origin, clean.confidence) == ("utf-8", 1.0)  # valid UTF-8 outranks a (wrong) label
    broken = ("<p>" + "Zażółć gęślą jaźń. " * 20 + "</p>").encode("utf-8")
    broken = broken[:40] + b"\xc5" + broken[40:]  # one cut sequence in 160 non-ASCII characters
    lossy = decode_page(broken)
    assert lossy.origin == "utf-8-lossy" and lossy.text.count("\ufffd") == 1 and 0.98 < lossy.confidence < 1
    junk = decode_page(bytes(range(0x80, 0x100)) * 3)
    assert junk.origin in ("detected", "fallback", "latin-default")
    assert junk.meta()["encoding_origin"] == junk.origin


def test_real_pages_decode_without_guessing_or_loss(realdata):
    import gzip

    from transforms.extract.encoding import decode_page
    pages = sorted(need(realdata, "8-html-extraction").rglob("*.htm*"))
    assert len(pages) > 100
    origins = {}
    for path in pages:
        raw = path.read_bytes()
        raw = gzip.decompress(raw) if path.suffix == ".gz" else raw
        decoded = decode_page(raw)
        origins[decoded.origin] = origins.get(decoded.origin, 0) + 1
        if decoded.origin not in ("utf-8-lossy", "fallback") and "\ufffd".encode() not in raw:
            assert "\ufffd" not in decoded.text, (path.name, decoded.origin)  # nothing replaced silently
    guessed = sum(n for o, n in origins.items() if o in ("latin-default", "detected", "fallback"))
    assert guessed <= len(pages) * 0.02 and origins.get("fallback", 0) == 0, origins


def test_mojibake_repaired_but_real_text_untouched():
    assert repair_mojibake("The patientâ€™s dose â€“ 5 mg; cafÃ©") == "The patient’s dose – 5 mg; café"
    for genuine in ("Ã la carte", "São Paulo", "naïve café", "¿Qué?", "año", "Müller"):
        assert repair_mojibake(genuine) == genuine
