"""PubMed baseline/update files against a loopback server serving real MEDLINE files: MD5 checks, deletions,
increments."""
from __future__ import annotations

import gzip
import hashlib

import pytest

from scrapers.bulk.pubmed import PubmedFetcher, parse_md5
from testkit.authored import MEDLINE_SOURCES, medline_gz
from tests.scrapers.bulk._helpers import _downloader


@pytest.mark.parametrize("medline", sorted(MEDLINE_SOURCES))
def test_pubmed_md5_verification_and_deletions(realdata, server, tmp_path, medline):
    root, base = server
    baseline, updates = root / "baseline", root / "updatefiles"
    baseline.mkdir()
    updates.mkdir()
    good = medline_gz(medline, realdata)
    (baseline / "pubmed24n0001.xml.gz").write_bytes(good)
    (baseline / "pubmed24n0001.xml.gz.md5").write_text(f"MD5(pubmed24n0001.xml.gz)= {hashlib.md5(good).hexdigest()}\n")
    (baseline / "pubmed24n0002.xml.gz").write_bytes(good + b"tampered")
    (baseline / "pubmed24n0002.xml.gz.md5").write_text(f"MD5(pubmed24n0002.xml.gz)= {hashlib.md5(good).hexdigest()}\n")
    update = gzip.compress(b"<PubmedArticleSet><DeleteCitation><PMID Version=\"1\">36400559</PMID>"
                           b"<PMID Version=\"1\">123</PMID></DeleteCitation></PubmedArticleSet>")
    (updates / "pubmed24n0003.xml.gz").write_bytes(update)
    (updates / "pubmed24n0003.xml.gz.md5").write_text(hashlib.md5(update).hexdigest() + "  pubmed24n0003.xml.gz\n")
    state = tmp_path / "pubmed_state.json"
    fetcher = PubmedFetcher(_downloader(tmp_path), base, state_path=str(state))
    records = list(fetcher.fetch())
    assert [r.meta_dict()["file"] for r in records] == ["pubmed24n0001.xml.gz", "pubmed24n0003.xml.gz"]
    assert records[0].content == good and records[0].content_type == "pubmed-xml"
    assert [url.rsplit("/", 1)[-1] for url, reason in fetcher.failed] == ["pubmed24n0002.xml.gz"]
    assert fetcher.failed[0][1].startswith("md5_mismatch")
    assert records[1].meta_dict()["deleted_pmids"] == ["36400559", "123"]
    assert fetcher.deleted_pmids == {"36400559", "123"}
    assert not (tmp_path / "cache" / "pubmed24n0002.xml.gz").exists()
    # incremental: the bad file is retried, the good ones are not fetched again
    assert [r.meta_dict()["file"] for r in PubmedFetcher(_downloader(tmp_path), base, state_path=str(state)).fetch()] == []
    assert parse_md5("MD5(x)= " + "a" * 32) == "a" * 32
