"""PMC Open Access bulk packages against a loopback HTTP server serving packages built here from ../shared/realdata."""
from __future__ import annotations

import tarfile

from scrapers.bulk.pmc import PmcOaFetcher
from tests.scrapers.bulk._helpers import FILELIST_HEADER, PLOS, _downloader, _tar


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
