"""Fault and bad-input tests against a real HTTP server on 127.0.0.1."""
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from scrapers.client import PoliteClient, classify_content_type
from scrapers.crawler import Crawler
from schemas.raw_store import list_parts, read_raw_store
from tests.scrapers.conftest import fast_client, fast_crawl
from testkit.server import FixtureServer, Page, drip, flaky, gzip_bomb, huge, make_pdf, redirect, slow, truncated

REPO = Path(__file__).resolve().parents[2]
HTML = Page("<html><body><h1>ok</h1><p>fine</p></body></html>")


def client(limiter, **kw):
    return PoliteClient(["127.0.0.1"], fast_client(**kw), rate_limiter=limiter)


def test_429_retry_after_is_honoured(limiter):
    with FixtureServer({"/a": flaky([429], HTML, retry_after="1")}) as srv:
        started = time.monotonic()
        res = client(limiter).fetch(srv.base + "/a")
        assert res.ok and res.content == HTML.body
        assert time.monotonic() - started >= 0.9  # waited as told, not the 10 ms backoff
        assert srv.hits("/a") == 2


def test_5xx_burst_is_retried_then_reported(limiter):
    with FixtureServer({"/burst": flaky([500, 503], HTML), "/down": flaky([503] * 20, HTML)}) as srv:
        c = client(limiter)
        assert c.fetch(srv.base + "/burst").ok and srv.hits("/burst") == 3
        res = c.fetch(srv.base + "/down")
        assert res.error == "http_error" and res.status == 503
        assert srv.hits("/down") == 3  # first try + 2 retries


def test_read_timeout_is_reported(limiter):
    with FixtureServer({"/slow": slow(1.5, HTML)}) as srv:
        res = client(limiter, read_timeout_s=0.2, retries=1).fetch(srv.base + "/slow")
        assert res.error == "timeout"


@pytest.mark.parametrize("mode", ["body", "chunked", "headers"])
def test_slow_drip_is_cut_at_the_request_deadline(limiter, mode):
    # One byte every 0.2 s never trips the 2 s read timeout; 400 bytes would take 80 s.
    sent = {}
    handler = drip(b"<html>" + b"z" * 394, 0.2, in_headers=mode == "headers", chunked=mode == "chunked", sent=sent)
    with FixtureServer({"/drip": handler, "/ok": HTML}) as srv:
        c = client(limiter, request_deadline_s=1.5, read_timeout_s=2.0)
        started = time.monotonic()
        res = c.fetch(srv.base + "/drip")
        elapsed = time.monotonic() - started
        assert res.error == "timeout" and "request deadline of 1.5s" in res.detail, res
        assert res.content == b"" and 1.4 <= elapsed < 3.5
        assert 0 < sent["bytes"] < 60
        assert srv.hits("/drip") == 1  # a deadline is not retried
        assert c.fetch(srv.base + "/ok").ok  # the client is fine afterwards


def test_retries_and_retry_after_stop_at_the_deadline(limiter):
    with FixtureServer({"/busy": flaky([503] * 10, HTML, retry_after="30")}) as srv:
        c = client(limiter, request_deadline_s=1.0, retries=5)
        started = time.monotonic()
        res = c.fetch(srv.base + "/busy")
        assert res.error == "timeout" and "deadline" in res.detail
        assert time.monotonic() - started < 2.5  # not 5 x 30 s of Retry-After
        assert srv.hits("/busy") == 1


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_compression_bomb_is_refused_at_the_size_cap_with_bounded_memory(limiter, encoding):
    import tracemalloc
    cap = 16 << 20
    bomb = gzip_bomb(2 << 30, encoding)  # 2 GiB of zeros in ~2 MB
    assert len(bomb) < 3 << 20
    with FixtureServer({"/bomb": Page(bomb, "html", headers={"Content-Encoding": encoding})}) as srv:
        c = client(limiter, max_body_bytes=cap)
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            res = c.fetch(srv.base + "/bomb")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert res.error == "too_large" and res.content == b""
    assert peak <= 1.2 * cap, f"peak {peak / 2**20:.1f} MiB for a {cap >> 20} MiB cap"


def test_corrupt_compressed_body_is_reported(limiter):
    with FixtureServer({"/bad": Page(b"\x1f\x8b\x08\x00garbage-not-gzip", "html",
                                     headers={"Content-Encoding": "gzip"})}) as srv:
        res = client(limiter).fetch(srv.base + "/bad")
        assert res.error == "bad_encoding" and "gzip" in res.detail


def test_truncated_body_is_retried_then_reported(limiter):
    body = b"<html><body>" + b"y" * 5000 + b"</body></html>"
    with FixtureServer({"/once": truncated(body, times=1, then=HTML), "/always": truncated(body)}) as srv:
        c = client(limiter)
        assert c.fetch(srv.base + "/once").ok
        res = c.fetch(srv.base + "/always")
        assert res.error == "truncated" and res.content == b""


def test_redirects_loops_and_off_domain_hops(limiter):
    with FixtureServer({"/r1": redirect("/r2"), "/r2": redirect("/r1"), "/go": redirect("/final", 301),
                        "/final": HTML, "/away": redirect("https://evil.example.com/x")}) as srv:
        c = client(limiter)
        ok = c.fetch(srv.base + "/go")
        assert ok.ok and ok.final_url.endswith("/final")
        assert c.fetch(srv.base + "/r1").error == "redirect_loop"
        away = c.fetch(srv.base + "/away")
        assert away.error == "off_domain" and "evil.example.com" in away.detail


def test_robots_disallow_and_crawl_delay(limiter):
    robots = Page("User-agent: *\nDisallow: /private/\nCrawl-delay: 0.3\n", "text")
    with FixtureServer({"/robots.txt": robots, "/private/x": HTML, "/a": HTML, "/b": HTML}) as srv:
        c = client(limiter)
        res = c.fetch(srv.base + "/private/x")
        assert res.error == "robots" and srv.hits("/private/x") == 0
        t0 = time.monotonic()
        assert c.fetch(srv.base + "/a").ok and c.fetch(srv.base + "/b").ok
        assert time.monotonic() - t0 >= 0.3
        assert srv.hits("/robots.txt") == 1  # cached per host


def test_robots_unreachable_means_disallow(limiter):
    with FixtureServer({"/robots.txt": flaky([500] * 10, HTML), "/a": HTML}) as srv:
        assert client(limiter).fetch(srv.base + "/a").error == "robots"
        assert srv.hits("/a") == 0


def test_off_domain_and_private_addresses_are_refused_without_traffic(limiter):
    c = client(limiter)
    assert c.fetch("https://twitter.com/share").error == "off_domain"
    assert c.fetch("ftp://127.0.0.1/x").error == "bad_url"
    private = PoliteClient(["10.0.0.7", "169.254.169.254", "localhost"], fast_client(allow_loopback=False),
                           rate_limiter=limiter)
    assert private.fetch("http://10.0.0.7/intranet").error == "private_address"
    assert private.fetch("http://169.254.169.254/latest/meta-data").error == "private_address"
    assert private.fetch("http://localhost/").error == "private_address"
    with FixtureServer({"/a": HTML}) as srv:
        strict = PoliteClient(["127.0.0.1"], fast_client(allow_loopback=False), rate_limiter=limiter)
        assert strict.fetch(srv.base + "/a").error == "private_address"
        assert srv.hits("/a") == 0


def test_content_type_checks(limiter):
    pdf = make_pdf("hello")
    with FixtureServer({"/doc": Page(pdf, "pdf"), "/mislabelled": Page(pdf, "application/octet-stream"),
                        "/img": Page(b"\x89PNG....", "image/png")}) as srv:
        c = client(limiter)
        res = c.fetch(srv.base + "/doc", accept=("html",))
        assert res.error == "content_type" and "application/pdf" in res.detail
        assert c.fetch(srv.base + "/mislabelled", accept=("pdf",)).ok
        assert c.fetch(srv.base + "/img", accept=("html", "pdf")).error == "content_type"
    assert classify_content_type("text/html; charset=utf-8") == "html"
    assert classify_content_type("application/vnd.api+json") == "json"


@pytest.mark.parametrize("declare_length", [False, True])
def test_50mb_page_is_abandoned_at_the_size_cap(limiter, declare_length):
    sent = {"bytes": 0}
    with FixtureServer({"/huge": huge(50 * 1024 * 1024, declare_length, sent)}) as srv:
        t0 = time.monotonic()
        res = client(limiter, max_body_bytes=1024 * 1024).fetch(srv.base + "/huge")
        assert res.error == "too_large" and res.content == b""
        assert time.monotonic() - t0 < 10
        time.sleep(0.2)
        assert sent["bytes"] < 20 * 1024 * 1024  # stopped reading long before 50 MB


def test_rate_limit_spaces_requests(limiter):
    with FixtureServer({"/a": HTML}) as srv:
        c = client(limiter, rate_limit_per_s=20)
        t0 = time.monotonic()
        for _ in range(5):
            assert c.fetch(srv.base + "/a").ok
        assert time.monotonic() - t0 >= 0.19  # 4 gaps of 50 ms (robots.txt shares the host budget)


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
