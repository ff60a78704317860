"""PoliteClient fault and bad-input tests against a real HTTP server on 127.0.0.1 (the crawler's: test_crawler.py)."""
import time

import pytest

from scrapers.client import PoliteClient, classify_content_type
from tests.scrapers.conftest import HTML, fast_client
from testkit.server import FixtureServer, Page, drip, flaky, gzip_bomb, huge, make_pdf, redirect, slow, truncated


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
