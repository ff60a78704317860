"""Bulk acquisition against a loopback HTTP server serving packages built here from ../shared/realdata."""
from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.raw import RawRecord
from scrapers.bulk.download import BulkDownloader, DownloadError
from scrapers.bulk.pmc import PmcOaFetcher
from scrapers.bulk.pubmed import PubmedFetcher, parse_md5
from scrapers.bulk.replay import sample_replay
from scrapers.bulk.tarsafe import Member, Refused, iter_tar
from testkit.authored import MEDLINE_SOURCES, medline_gz


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture()
def server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _tar(members: list[tuple[str, bytes]], links: list[tuple[str, str, bytes]] = ()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
        for name, target, kind in links:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


def _downloader(tmp_path) -> BulkDownloader:
    return BulkDownloader([], tmp_path / "cache", allow_loopback=True, retries=0, timeout_s=10)


PLOS = ["journal.pone.0097541.xml", "journal.pone.0108198.xml", "journal.ppat.1005207.xml"]
FILELIST_HEADER = "Article File,AccessionID,LastUpdated (YYYY-MM-DD HH:MM:SS),PMID,License,Retracted\n"


def test_pmc_packages_licences_refusals_and_increments(realdata, server, tmp_path):
    root, base = server
    folder = root / "oa_bulk/oa_comm/xml"
    folder.mkdir(parents=True)
    articles = [(f"PMC000xxxxxx/PMC{100 + i}.xml", (realdata / "1-pmc-jats/plos_starter_corpus" / name).read_bytes())
                for i, name in enumerate(PLOS)]
    evil = [("../../etc/evil.xml", b"<article/>"), ("/abs.xml", b"<article/>"), ("big.xml", b"x" * 40000)]
    baseline = "oa_comm_xml.PMC000xxxxxx.baseline.2024-06-18"
    (folder / f"{baseline}.tar.gz").write_bytes(_tar(articles + evil, [("PMC000xxxxxx/link.xml", "/etc/passwd", tarfile.SYMTYPE)]))
    (folder / f"{baseline}.filelist.csv").write_text(FILELIST_HEADER + "".join(
        f"{name},PMC{100 + i},2024-06-01 00:00:00,{900 + i},{'CC BY' if i < 2 else 'CC0'},{'yes' if i == 1 else 'no'}\n"
        for i, (name, _) in enumerate(articles)))
    state = tmp_path / "pmc_state.json"
    fetcher = PmcOaFetcher(_downloader(tmp_path), f"{base}/oa_bulk", state_path=str(state), max_member_bytes=32768)
    records = list(fetcher.fetch())
    assert [r.meta_dict()["pmcid"] for r in records] == ["PMC100", "PMC102"]  # PMC101 is retracted
    first = records[0].meta_dict()
    assert records[0].license == "CC BY" and first["pmid"] == "900" and first["doi"] == "10.1371/journal.pone.0097541"
    assert records[1].license == "CC0" and records[0].content_type == "jats"
    assert records[0].content == articles[0][1]
    reasons = sorted((name, reason) for _pkg, name, reason in fetcher.refused)
    assert ("../../etc/evil.xml", "path_traversal") in reasons and ("/abs.xml", "path_traversal") in reasons
    assert ("PMC000xxxxxx/link.xml", "link") in reasons and ("big.xml", "too_large") in reasons
    assert fetcher.stats["retracted"] == 1
    assert not (tmp_path / "etc").exists()

    # Re-run: nothing new. Add an increment: only its article comes.
    again = PmcOaFetcher(_downloader(tmp_path), f"{base}/oa_bulk", state_path=str(state))
    assert list(again.fetch()) == []
    incr = "oa_comm_xml.incr.2024-06-19"
    updated = articles[0][1].replace(b"</article-title>", b" (corrected)</article-title>", 1)
    (folder / f"{incr}.tar.gz").write_bytes(_tar([(articles[0][0], updated)]))
    (folder / f"{incr}.filelist.csv").write_text(FILELIST_HEADER + f"{articles[0][0]},PMC100,2024-06-19 00:00:00,900,CC BY,no\n")
    newer = list(PmcOaFetcher(_downloader(tmp_path), f"{base}/oa_bulk", state_path=str(state)).fetch())
    assert len(newer) == 1 and newer[0].url == records[0].url and newer[0].sha256 != records[0].sha256
    assert newer[0].meta_dict()["package_kind"] == "incr"


def test_tar_corrupt_archive_is_reported():
    items = list(iter_tar(io.BytesIO(b"\x1f\x8b\x08\x00 not a tar")))
    assert len(items) == 1 and isinstance(items[0], Refused) and items[0].reason.startswith("corrupt")
    ok = list(iter_tar(io.BytesIO(_tar([("a.xml", b"<a/>"), ("b.jpg", b"img")]))))
    assert ok == [Member("a.xml", b"<a/>")]


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


def test_downloader_refuses_other_hosts(tmp_path):
    d = BulkDownloader(["ftp.ncbi.nlm.nih.gov"], tmp_path)
    with pytest.raises(DownloadError):
        d.check("http://127.0.0.1:1/x")  # loopback not allowed unless asked
    with pytest.raises(DownloadError):
        d.check("https://example.org/x")
    with pytest.raises(DownloadError):
        d.check("file:///etc/passwd")
    d.check("https://ftp.ncbi.nlm.nih.gov/pubmed/baseline/")


def _replay_files(tmp_path: Path) -> list[str]:
    rows = [{"id": f"doc{i}", "text": ("word%d " % i) * (20 + i % 30), "license": "CC BY-SA"} for i in range(300)]
    jsonl = tmp_path / "a.jsonl.gz"
    jsonl.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows[:100]).encode()))
    pq.write_table(pa.Table.from_pylist(rows[100:200]), tmp_path / "b.parquet")
    with pa.ipc.new_file(str(tmp_path / "c.arrow"), pa.Table.from_pylist(rows[200:]).schema) as writer:
        writer.write_table(pa.Table.from_pylist(rows[200:]))
    return [str(jsonl), str(tmp_path / "b.parquet"), str(tmp_path / "c.arrow")]


def test_replay_deterministic_sample_within_budget(tmp_path):
    paths = _replay_files(tmp_path)
    budget = 5000
    first = list(sample_replay(paths, token_budget=budget, seed=7))
    again = list(sample_replay(list(reversed(paths)), token_budget=budget, seed=7))
    assert [r.content for r in first] == [r.content for r in again]
    used = sum(r.meta_dict()["estimated_tokens"] for r in first)
    assert budget * 0.9 <= used <= budget
    formats = {r.meta_dict()["replay_path"].rsplit(".", 1)[-1] for r in first}
    assert formats == {"gz", "parquet", "arrow"}  # all three formats were read
    other = list(sample_replay(paths, token_budget=budget, seed=8))
    assert {r.url for r in other} != {r.url for r in first}
    item = json.loads(first[0].content)
    assert item["id"].startswith("doc") and first[0].license == "CC BY-SA" and first[0].content_type == "json"
    bigger = {r.url for r in sample_replay(paths, token_budget=2 * budget, seed=7)}
    assert {r.url for r in first} <= bigger  # a larger budget extends the same sample
