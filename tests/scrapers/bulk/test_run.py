"""`gap scrape` on bulk sources (pmc, pubmed, replay) through scrapers.bulk.run_bulk, against a loopback
HTTP server serving packages built from ../shared/realdata (helpers from test_bulk)."""
from __future__ import annotations

import gzip
import hashlib
import json

import pytest
import yaml

from gap_pipeline.cli import main
from schemas.document import Document
from schemas.raw_store import read_raw_store
from scrapers.bulk import BulkSettings, run_bulk
from scrapers.raw_store import read_last_scrape
from scrapers.specs import load_spec
from tests.scrapers.bulk._helpers import FILELIST_HEADER, PLOS, _replay_files, _tar
from testkit.authored import MEDLINE_SOURCES, medline_gz
from transforms.extract.medline import apply_pubmed_updates, extract_medline
from transforms.extract.options import ExtractOptions


def _pmc_site(root, realdata):
    folder = root / "oa_bulk/oa_comm/xml"
    folder.mkdir(parents=True)
    articles = [(f"PMC000xxxxxx/PMC{100 + i}.xml", (realdata / "1-pmc-jats/plos_starter_corpus" / n).read_bytes())
                for i, n in enumerate(PLOS[:2])]
    name = "oa_comm_xml.PMC000xxxxxx.baseline.2024-06-18"
    (folder / f"{name}.tar.gz").write_bytes(_tar(articles + [("../evil.xml", b"<article/>")]))
    (folder / f"{name}.filelist.csv").write_text(FILELIST_HEADER + "".join(
        f"{m},PMC{100 + i},2024-06-01 00:00:00,{900 + i},CC BY,no\n" for i, (m, _) in enumerate(articles)))
    # listed in the folder but missing on the server: a failed package, retried next run
    (folder / "index.html").write_text(
        f'<a href="{name}.tar.gz">a</a> <a href="oa_comm_xml.incr.2024-06-20.tar.gz">b</a>')
    return articles


def _md5_line(data: bytes, name: str) -> str:
    return f"MD5({name})= {hashlib.md5(data).hexdigest()}\n"


def _pubmed_site(root, realdata, medline):
    (root / "pubmed/baseline").mkdir(parents=True)
    (root / "pubmed/updatefiles").mkdir(parents=True)
    good = medline_gz(medline, realdata)
    (root / "pubmed/baseline/pubmed24n0001.xml.gz").write_bytes(good)
    (root / "pubmed/baseline/pubmed24n0001.xml.gz.md5").write_text(_md5_line(good, "pubmed24n0001.xml.gz"))
    update = gzip.compress(b'<PubmedArticleSet><DeleteCitation><PMID Version="1">%s</PMID>'
                           b"</DeleteCitation></PubmedArticleSet>" % MEDLINE_SOURCES[medline].encode(), mtime=0)
    (root / "pubmed/updatefiles/pubmed24n0002.xml.gz").write_bytes(update)
    (root / "pubmed/updatefiles/pubmed24n0002.xml.gz.md5").write_text(_md5_line(b"not the file", "x"))  # wrong
    return update


@pytest.mark.parametrize("medline", sorted(MEDLINE_SOURCES))
def test_gap_scrape_bulk_sources(realdata, server, tmp_path, capsys, medline):
    root, base = server
    articles = _pmc_site(root, realdata)
    update = _pubmed_site(root, realdata, medline)
    pmid = MEDLINE_SOURCES[medline]
    replay_paths = _replay_files(tmp_path)
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump({"scrape": {"retries": 0, "bulk": {
        "pmc_base_url": f"{base}/oa_bulk", "pubmed_base_url": f"{base}/pubmed", "replay_paths": replay_paths,
        "replay_token_budget": 3000, "replay_seed": 3}}}))
    out = tmp_path / "raw"
    args = ["scrape", "--sources", "pmc,pubmed,replay", "--out", str(out), "--config", str(cfg),
            "--allow-loopback", "--no-progress", "--summary-json", str(tmp_path / "s.json")]
    assert main(args) == 1  # the missing increment, the refused member and the bad MD5 are failures
    text = capsys.readouterr().out
    assert "md5_mismatch=1" in text and "path_traversal=1" in text and "download=1" in text
    summary = {s["source"]: s for s in json.loads((tmp_path / "s.json").read_text())}
    assert summary["pmc"]["fetched"] == 2 and summary["pmc"]["failure_reasons"] == {"download": 1, "path_traversal": 1}
    assert summary["pubmed"]["fetched"] == 1 and summary["pubmed"]["failure_reasons"] == {"md5_mismatch": 1}
    replay_count = summary["replay"]["fetched"]
    assert replay_count > 10 and summary["replay"]["failed"] == 0 and summary["replay"]["error"] is None
    records = list(read_raw_store(out))
    pmc = sorted((r.url, r.content) for r in records if r.source == "pmc")
    assert [c for _u, c in pmc] == [c for _n, c in articles]
    assert {r.source for r in records} == {"pmc", "pubmed", "replay"}
    assert read_last_scrape(out, "pubmed")["fetched"] == 1
    assert (out / "_bulk/pmc/state.json").exists() and not list((out / "_bulk/pmc/downloads").glob("*.tar.gz"))

    # The MD5 is fixed: only the update file comes; replay re-samples the same rows (all unchanged).
    (root / "pubmed/updatefiles/pubmed24n0002.xml.gz.md5").write_text(_md5_line(update, "pubmed24n0002.xml.gz"))
    (root / "oa_bulk/oa_comm/xml/index.html").write_text('<a href="oa_comm_xml.PMC000xxxxxx.baseline.2024-06-18.tar.gz">a</a>')
    assert main(args[:2] + ["pubmed,replay,pmc"] + args[3:]) == 0
    again = {s["source"]: s for s in json.loads((tmp_path / "s.json").read_text())}
    assert again["pubmed"]["fetched"] == 1 and again["pubmed"]["failed"] == 0
    assert again["replay"]["fetched"] == 0 and again["replay"]["unchanged"] == replay_count
    assert again["pmc"]["fetched"] == 0 and again["pmc"]["discovered"] == 0  # package done: not downloaded again

    # Built as the pipeline will: the update file's deletion removes that PMID.
    docs = [d for r in read_raw_store(out, sources=["pubmed"])
            for d in extract_medline(r, subset="abstracts", options=ExtractOptions()) if isinstance(d, Document)]
    kept, dropped = apply_pubmed_updates(docs)
    assert pmid in {d.meta.get("pmid") for d in docs}
    assert pmid not in {d.meta.get("pmid") for d in kept}
    assert [(d.reason, d.detail) for d in dropped if d.reason == "deleted_citation"] == [("deleted_citation", "2")]


def test_default_scrape_does_not_start_bulk_sources(tmp_path, capsys, monkeypatch):
    import scrapers.bulk as bulk
    import scrapers.crawler as crawler
    from scrapers.specs import load_specs
    called, crawled = [], []
    monkeypatch.setattr(bulk, "run_bulk", lambda *a, **k: called.append(a))
    # Crawled sources are stubbed: no network; the test is about which sources a default run starts.
    monkeypatch.setattr(crawler.Crawler, "run", lambda self: crawled.append(self.spec["id"]) or
                        crawler.CrawlReport(source=self.spec["id"]))
    specs_dir = tmp_path / "specs"   # a corpus's own specs sit beside the shipped ones
    specs_dir.mkdir()
    (specs_dir / "pmc.yaml").write_text(yaml.safe_dump(load_spec("pmc")))
    assert main(["scrape", "--out", str(tmp_path / "raw"), "--specs-dir", str(specs_dir), "--no-progress"]) == 0
    assert called == []  # a default run never starts a bulk download
    assert sorted(crawled) == sorted(n for n, s in load_specs().items() if s["discovery"]["method"] != "bulk")
    monkeypatch.undo()
    # Replay without paths / an unknown bulk fetcher: the source fails with a clear error, never raises.
    spec = dict(load_spec("replay"))
    report = run_bulk(spec, tmp_path / "raw", BulkSettings())
    assert report.error and "replay_paths" in report.error
    spec["bulk"] = "nope"
    assert "unknown bulk fetcher" in run_bulk(spec, tmp_path / "raw", BulkSettings()).error


def test_pmc_package_marked_done_only_after_checkpoint(realdata, server, tmp_path):
    from scrapers.bulk.download import BulkDownloader
    from scrapers.bulk.pmc import PmcOaFetcher
    root, base = server
    _pmc_site(root, realdata)
    state = tmp_path / "state.json"
    seen = []

    def checkpoint():  # the writer's flush: every record of the package is out, the package not yet done
        seen.append((len(records), json.loads(state.read_text())["done"] if state.exists() else []))

    records = []
    fetcher = PmcOaFetcher(BulkDownloader([], tmp_path / "c", allow_loopback=True, retries=0), f"{base}/oa_bulk",
                           state_path=str(state), checkpoint=checkpoint)
    for r in fetcher.fetch():
        records.append(r)
    assert seen == [(2, [])]
    assert json.loads(state.read_text())["done"] == ["oa_comm_xml.PMC000xxxxxx.baseline.2024-06-18.tar.gz"]
    assert [u.rsplit("/", 1)[-1] for u, _ in fetcher.failed] == ["oa_comm_xml.incr.2024-06-20.tar.gz"]
