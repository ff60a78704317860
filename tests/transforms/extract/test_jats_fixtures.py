"""JATS behaviours checked in tests/transforms/extract/test_jats.py and test_xmlsafe.py on articles under non-commercial or
no licence (tests/data/NOT_BUNDLED.tsv), here on invented articles in tests/data/authored/jats, so a clone
without ../shared tests them too."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

from schemas.document import Document, document_id
from schemas.raw import RawRecord
from testkit.authored import JATS_DIR, MEDLINE_XML
from testkit.realdata import REPO
from transforms.extract.jats import extract_jats
from transforms.extract.options import ExtractOptions

TAG = ExtractOptions()
XXE = (b'<?xml version="1.0"?><!DOCTYPE article [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
       b'<article><body><p>&xxe;</p></body></article>')


def _raw(path: Path, content: bytes | None = None, meta: dict | None = None) -> RawRecord:
    return RawRecord.make(source="pmc", url=path.as_uri(), fetched_at="2024-01-01T00:00:00Z", content_type="jats",
                          content=content if content is not None else path.read_bytes(), meta=meta)


def _docs(path: Path) -> list[Document]:
    return [d for d in extract_jats(_raw(path), subset="papers", options=TAG) if isinstance(d, Document)]


def test_main_language_first_then_translation():
    """As test_jats.test_scielo_main_language_first: a Spanish main text, its English translation second."""
    docs = _docs(JATS_DIR / "es_main_with_translation.xml")
    assert [d.lang for d in docs] == ["es", "en"]
    es, en = docs
    assert en.meta["translation_of"] == es.id and es.id != en.id
    assert es.title.startswith("Análisis") and en.title.startswith("Analysis")
    assert "# INTRODUCCIÓN" in es.text and "# INTRODUCTION" in en.text
    assert "Seasonal influenza" not in es.text and "gripe estacional" not in en.text  # no mixing
    assert "# Agradecimientos" not in es.text and "Agradecemos" not in es.text  # acknowledgements dropped
    assert "Acknowledgements" not in en.text
    assert all(d.license == "CC BY 4.0" for d in docs)


def test_multi_article_file_and_gzip():
    """As test_jats.test_multi_article_file_and_gzip: one document per <article>, PMC ids normalised."""
    path = JATS_DIR / "articles_set.xml"
    docs = _docs(path)
    pmcids = [d.meta["pmcid"] for d in docs]
    assert pmcids == ["PMC9900101", "PMC9900102", "PMC9900103"]
    assert [d.id for d in docs] == [document_id("pmc", p) for p in pmcids]
    assert docs[1].title == "Delayed diagnosis of an invented oesophageal ring"
    gz = extract_jats(_raw(path, gzip.compress(path.read_bytes(), mtime=0)), subset="papers", options=TAG)
    assert [d.text for d in gz] == [d.text for d in docs]


def test_raw_meta_fills_missing_ids_and_license():
    """As test_jats.test_raw_meta_fills_missing_ids_and_license: the article states neither."""
    path = JATS_DIR / "no_license_no_ids.xml"
    [bare] = _docs(path)
    assert "pmcid" not in bare.meta or not bare.meta["pmcid"]
    [doc] = [d for d in extract_jats(_raw(path, meta={"license": "CC BY-NC-SA", "pmcid": "PMC3000000"}),
                                      subset="papers", options=TAG) if isinstance(d, Document)]
    assert doc.license == "CC BY-NC-SA" and doc.meta["license"] == "CC BY-NC-SA"
    assert doc.meta["pmcid"] == "PMC3000000"


def test_gap_extract_cli_prints_json_lines(tmp_path):
    """As test_xmlsafe.test_gap_extract_cli_prints_json_lines: JATS, gzipped MEDLINE and an XXE file."""
    medline = tmp_path / "pubmed24n0001.xml.gz"
    medline.write_bytes(gzip.compress(MEDLINE_XML.read_bytes(), mtime=0))
    bad = tmp_path / "bad.xml"
    bad.write_bytes(XXE)
    proc = subprocess.run([sys.executable, "-m", "gap_pipeline.cli", "extract", str(JATS_DIR / "es_main_with_translation.xml"),
                           str(medline), str(bad), "--citations", "remove"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 1  # the XXE file failed, the others printed
    lines = [json.loads(line) for line in proc.stdout.split("\n") if line]
    assert [set(x) for x in lines] == [{"id", "title", "text", "lang", "meta"}] * len(lines)
    assert [x["lang"] for x in lines[:2]] == ["es", "en"]
    assert sum(1 for x in lines if x["meta"].get("format") == "medline") == 6  # 5 abstracts + 1 OtherAbstract
    assert not any("[BIB_REF]" in x["text"] for x in lines)
    assert "bad.xml" in proc.stderr and "entities" in proc.stderr
    assert "root:" not in proc.stdout
