"""Every shipped crawled source against a fixture copy of its site on 127.0.0.1: discovery finds every
article, the raw records are right, and a second crawl refetches nothing."""
from urllib.parse import urlsplit

import pytest

from schemas.raw import RawRecord
from schemas.raw_store import read_raw_store
from scrapers.crawler import Crawler
from scrapers.specs import load_specs
from testkit.server import FixtureServer, Page, norm
from tests.scrapers.conftest import fast_crawl
from tests.scrapers.sites import SITES, localize

CRAWLED = sorted(n for n, s in load_specs().items() if s["discovery"]["method"] != "bulk")


def test_every_crawled_source_has_a_fixture_site():
    assert set(CRAWLED) == set(SITES)
    assert len(CRAWLED) == 18


@pytest.mark.parametrize("name", CRAWLED)
def test_source_crawl_stores_every_article(name, tmp_path):
    spec = load_specs()[name]
    routes, expected = SITES[name]()
    with FixtureServer(routes) as server:
        local = localize(spec, server.base)
        report = Crawler(local, str(tmp_path), fast_crawl()).run()
        assert report.error is None, report.error
        assert report.failed == 0, report.failures
        records = list(read_raw_store(tmp_path))
        got = {norm(urlsplit(r.url).path + ("?" + urlsplit(r.url).query if urlsplit(r.url).query else "")): r.content_type
               for r in records}
        assert got == {norm(p): t for p, t in expected.items()}
        assert len(records) == len(expected)  # each stored exactly once
        for r in records:
            r.validate()
            assert r.source == name and r.license == spec["license"] and r.http_status == 200
            if r.content_type == "pdf":
                assert r.content.startswith(b"%PDF")
            if r.content_type == "html":
                assert b"<h1" in r.content
            meta = r.meta_dict()
            assert meta["http_etag"].startswith('"')  # kept for conditional GET on re-crawls
            if r.content_type == "pdf":
                assert meta["landing_url"].startswith(server.base) or "landing_url" not in meta
            if name != "pubmed_guidelines":
                assert meta["title"], r.url
        # The User-Agent names the project and the contact URL.
        assert all("gap-contact" in h.get("User-Agent", "") for _, h in server.log)
        # A second crawl is a resume: nothing stored is requested again.
        article_paths = {norm(p) for p in expected}
        before = [norm(p) for p in server.paths()]
        report2 = Crawler(local, str(tmp_path), fast_crawl()).run()
        after = [norm(p) for p in server.paths()][len(before):]
        assert report2.fetched == 0 and report2.failed == 0
        assert not article_paths & set(after), "stored articles were refetched"
        assert len(list(read_raw_store(tmp_path))) == len(expected)


@pytest.mark.parametrize("name,reason,bodies", [
    ("magic", "bad_json", ['{"name": "No sections", "sections": []}', "<html>not json</html>",
                           '{"sections": ["a section that is not an object"]}']),
    ("wikidoc", "api_error", ['{"error": {"code": "nosuchpageid", "info": "There is no page"}}', "not json",
                              '{"parse": {"title": null, "text": "<p>x</p>"}}']),
])
def test_api_hooks_fail_a_bad_json_item_by_name_and_go_on(name, reason, bodies, tmp_path):
    """A JSON-API item whose body is not what the hook reads is one named failure, not a crash."""
    spec = load_specs()[name]
    routes, expected = SITES[name]()
    bad = sorted(expected)[:len(bodies)]
    for path, body in zip(bad, bodies):
        routes[path] = Page(body, "json")
    with FixtureServer(routes) as server:
        report = Crawler(localize(spec, server.base), str(tmp_path), fast_crawl()).run()
        assert report.error is None, report.error
        assert report.reasons() == {reason: len(bodies)}
        stored = {norm(urlsplit(r.url).path + "?" + urlsplit(r.url).query).rstrip("?") for r in read_raw_store(tmp_path)}
        assert stored == {norm(p) for p in expected if p not in bad}


def test_a_landing_page_robots_forbid_is_counted_and_shown_as_disallowed(tmp_path):
    """WHO stores only the PDFs its landing pages link (store_html: false); a landing page robots.txt
    forbids is counted as disallowed, and its progress event says so, as for any other page."""
    spec = load_specs()["who"]
    routes, expected = SITES["who"]()
    routes["/robots.txt"] = Page("User-agent: *\nDisallow: /handle/10665/9789240002\n", "text")
    events = []
    with FixtureServer(routes) as server:
        report = Crawler(localize(spec, server.base), str(tmp_path), fast_crawl(),
                         progress=lambda event, url: events.append((event, urlsplit(url).path))).run()
        assert report.error is None and report.failed == 0 and report.disallowed == 1
        assert ("disallowed", "/handle/10665/9789240002") in events
        assert len(list(read_raw_store(tmp_path))) == len(expected) - 1
