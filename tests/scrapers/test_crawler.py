"""The crawler against a real HTTP server on 127.0.0.1: every fault on one site, recrawls, budgets, kills."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from scrapers.crawler import Crawler
from schemas.raw_store import list_parts, read_raw_store
from tests.scrapers.conftest import HTML, fast_crawl
from testkit.server import FixtureServer, Page, flaky, huge, make_pdf, redirect, slow, truncated

REPO = Path(__file__).resolve().parents[2]


def fault_site():
    """A listing whose articles hit every fault; retrievable ones must be stored exactly once."""
    good = {f"/art/good{i}": Page(f"<html><body><h1>Good {i}</h1><p>text {i}</p></body></html>") for i in range(4)}
    faults = {
        "/art/flaky": flaky([503, 500], Page("<html><h1>Flaky</h1></html>")),
        "/art/ratelimited": flaky([429], Page("<html><h1>Later</h1></html>"), retry_after="0"),
        "/art/cut-once": truncated(b"<html>" + b"z" * 4000 + b"</html>", times=1, then=Page("<html><h1>Whole</h1></html>")),
        "/art/dead": flaky([503] * 50, HTML),
        "/art/slow": slow(1.5, HTML),
        "/art/cut": truncated(b"<html>" + b"z" * 4000 + b"</html>"),
        "/art/loop": redirect("/art/loop2"), "/art/loop2": redirect("/art/loop"),
        "/art/pdf-not-html": Page(make_pdf("x"), "pdf"),
        "/art/huge": huge(50 * 1024 * 1024, False, {}),
        "/art/private/x": HTML,
    }
    links = list(good) + list(faults) + ["/art/missing", "https://twitter.com/art/x", "http://10.0.0.7/art/y"]
    listing = "<html><body>" + "".join(f"<a href='{u}'>{u}</a>" for u in links if u != "/art/loop2") + "</body></html>"
    routes = {"/": Page(listing), "/robots.txt": Page("User-agent: *\nDisallow: /art/private/\n", "text"), **good, **faults}
    expected_ok = set(good) | {"/art/flaky", "/art/ratelimited", "/art/cut-once"}
    expected_fail = {"/art/dead": "http_error", "/art/slow": "timeout", "/art/cut": "truncated",
                     "/art/loop": "redirect_loop", "/art/pdf-not-html": "content_type", "/art/huge": "too_large",
                     "/art/missing": "http_error", "/art/private/x": "robots"}
    return routes, expected_ok, expected_fail


def fault_spec(base, **disc):
    return {"id": "faulty", "publisher": "Faulty", "country": "US", "audience": "clinicians", "license": "CC0-1.0",
            "redistributable": True, "subset": "guidelines", "priority": 1, "allowed_domains": ["127.0.0.1"],
            "discovery": {"method": "links", "start_urls": [base + "/"], "article_patterns": ["/art/"], **disc},
            "content": {"format": "html"}, "cleaning": {"min_length": 0}}


def test_crawl_through_every_fault(tmp_path):
    routes, expected_ok, expected_fail = fault_site()
    with FixtureServer(routes) as srv:
        settings = fast_crawl(client={"read_timeout_s": 0.3, "retries": 2, "max_body_bytes": 512 * 1024})
        report = Crawler(fault_spec(srv.base), str(tmp_path), settings).run()
        assert report.error is None
        stored = [r.url.replace(srv.base, "") for r in read_raw_store(tmp_path, all_versions=True)]
        assert sorted(stored) == sorted(expected_ok)  # every retrievable page, exactly once
        reasons = {u.replace(srv.base, ""): r for u, r, _ in report.failures}
        for path, reason in expected_fail.items():
            assert reasons.get(path) == reason, (path, reasons.get(path))
        assert reasons["https://twitter.com/art/x"] == "off_domain"
        assert reasons["http://10.0.0.7/art/y"] == "off_domain"
        assert report.disallowed == 1 and report.failed == len(expected_fail) - 1 + 2
        assert all(detail for _, _, detail in report.failures)


def test_conditional_get_and_recrawl_writes_only_changed_pages(tmp_path):
    pages = {f"/art/{i}": Page(f"<html><h1>v1 {i}</h1></html>") for i in range(3)}
    routes = {"/": Page("<html>" + "".join(f"<a href='{p}'>x</a>" for p in pages) + "</html>"), **pages}
    with FixtureServer(routes) as srv:
        spec = fault_spec(srv.base)
        first = Crawler(spec, str(tmp_path), fast_crawl()).run()
        assert first.fetched == 3 and len(list_parts(tmp_path)) == 1
        srv.routes["/art/1"] = Page("<html><h1>v2 changed</h1></html>")
        n_log = len(srv.log)
        second = Crawler(spec, str(tmp_path), fast_crawl(refresh=True)).run()
        conditional = [h for p, h in srv.log[n_log:] if p.startswith("/art/")]
        assert all("If-None-Match" in h for h in conditional) and len(conditional) == 3
        assert second.unchanged == 2 and second.fetched == 1
        assert len(list_parts(tmp_path)) == 2
        latest = {r.url.replace(srv.base, ""): r.content for r in read_raw_store(tmp_path)}
        assert latest["/art/1"] == b"<html><h1>v2 changed</h1></html>" and len(latest) == 3


def test_one_failing_page_never_stops_the_source(tmp_path, monkeypatch):
    pages = {f"/art/{i}": Page(f"<html><h1>{i}</h1></html>") for i in range(3)}
    routes = {"/": Page("<html>" + "".join(f"<a href='{p}'>x</a>" for p in pages) + "</html>"), **pages}
    with FixtureServer(routes) as srv:
        crawler = Crawler(fault_spec(srv.base), str(tmp_path), fast_crawl())
        original = crawler.store

        def explode(item, result, **kw):
            if item.url.endswith("/art/1"):
                raise RuntimeError("boom")
            return original(item, result, **kw)
        monkeypatch.setattr(crawler, "store", explode)
        report = crawler.run()
        assert report.fetched == 2 and report.reasons() == {"crawler_error": 1}


KILL_SCRIPT = textwrap.dedent("""
    import sys, json
    sys.path.insert(0, {repo!r})
    from scrapers.crawler import Crawler, CrawlSettings
    from scrapers.client import ClientSettings
    spec = json.loads(sys.argv[1])
    settings = CrawlSettings(client=ClientSettings(allow_loopback=True, rate_limit_per_s=40), flush_records=1)
    Crawler(spec, sys.argv[2], settings).run()
""")


def test_source_time_budget_stops_the_source_and_a_rerun_resumes(tmp_path):
    routes = {"/robots.txt": Page("User-agent: *\nAllow: /\n", "text")}
    links = "".join(f'<a href="/g/{i}">guideline {i}</a>' for i in range(6))
    routes["/list"] = Page(f"<html><body>{links}</body></html>")
    for i in range(6):
        routes[f"/g/{i}"] = slow(0.8, Page(f"<html><body><h1>G{i}</h1><p>text {i}</p></body></html>"))
    with FixtureServer(routes) as srv:
        spec = _budget_spec(srv.base)
        report = Crawler(spec, str(tmp_path), fast_crawl(source_budget_s=1.0)).run()
        assert report.stopped and "source_budget_s" in report.stopped and report.error is None
        assert 1 <= report.fetched < 6 and report.failed == 0
        assert report.seconds < 3.5  # 6 x 0.8 s unbounded; the page in flight at 1 s is cut, none starts after
        assert sum(srv.hits(f"/g/{i}") for i in range(6)) <= report.fetched + 1
        stored = {r.url for r in read_raw_store(tmp_path)}
        assert len(stored) == report.fetched
        again = Crawler(spec, str(tmp_path), fast_crawl()).run()
        assert again.stopped is None and again.already_stored == report.fetched
        assert again.fetched == 6 - report.fetched


def test_http_charset_is_stored_for_the_extractor(tmp_path):
    from transforms.extract import ExtractOptions, extract_record
    text = "Zalecenia: pacjent powinien unikać soli; dawka – 5 mg."
    page = Page(f"<html><body><h1>G0</h1><p>{text}</p></body></html>".encode("cp1250"),
                "text/html; charset=windows-1250")
    with FixtureServer({"/robots.txt": Page("User-agent: *\nAllow: /\n", "text"),
                        "/list": Page('<html><body><a href="/g/0">g</a></body></html>'), "/g/0": page}) as srv:
        report = Crawler(_budget_spec(srv.base), str(tmp_path), fast_crawl()).run()
    assert report.fetched == 1
    [raw] = list(read_raw_store(tmp_path))
    assert raw.meta_dict()["charset"] == "windows-1250"
    [doc] = extract_record(raw, subset="guidelines", options=ExtractOptions(), rules={})
    assert text in doc.text and doc.meta["encoding_origin"] == "declared-http"


def _budget_spec(base: str) -> dict:
    import copy

    from scrapers.specs import load_spec, validate_spec
    spec = copy.deepcopy(load_spec("cdc"))
    spec.update(id="budget", allowed_domains=["127.0.0.1"],
                discovery={"method": "links", "start_urls": [base + "/list"], "article_patterns": [r"/g/\d+$"],
                           "max_depth": 1, "pagination": {"type": "none"}})
    return validate_spec(spec, "budget.yaml")


def test_sigkill_mid_crawl_resumes_without_refetching_or_corrupt_parts(tmp_path):
    import json
    pages = {f"/art/{i:03d}": Page(f"<html><h1>{i}</h1><p>{'w' * 20000}</p></html>") for i in range(60)}
    routes = {"/": Page("<html>" + "".join(f"<a href='{p}'>x</a>" for p in pages) + "</html>"), **pages}
    store = tmp_path / "raw"
    with FixtureServer(routes) as srv:
        spec = fault_spec(srv.base)
        proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT.format(repo=str(REPO)), json.dumps(spec), str(store)],
                                cwd=str(REPO))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            parts = list((store / "faulty").glob("part-*.parquet")) if (store / "faulty").exists() else []
            if len(parts) >= 10:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert 10 <= len(list((store / "faulty").glob("part-*.parquet"))) < 60
        stored_before = {r.url for r in read_raw_store(store)}  # every part readable: none corrupt
        log_start = len(srv.log)
        report = Crawler(spec, str(store), fast_crawl()).run()
        refetched = {srv.base + p for p in srv.paths()[log_start:]} & stored_before
        assert not refetched
        assert report.already_stored == len(stored_before)
        urls = [r.url for r in read_raw_store(store, all_versions=True)]
        assert len(urls) == len(set(urls)) == 60  # each page exactly once
        assert not [p for p in (store / "faulty").iterdir() if ".tmp-" in p.name]
