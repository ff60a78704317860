"""Real saved NICE and WHO IRIS pages (../shared/realdata/3-guidelines/reach_mock_sites, from
wellcometrust/reach's test fixtures) crawled with the shipped nice/who specs from a loopback server, then
extracted with transforms.extract.html.extract_html under the same spec rules. The pages are NICE's
(copyright) and WHO's (CC BY-NC-SA): read from ../shared, never copied here; a clone without it skips these
and still crawls every spec's own fixture site (tests/scrapers/test_sources.py)."""
from __future__ import annotations


from schemas.raw import RawRecord
from scrapers.crawler import Crawler
from schemas.raw_store import read_raw_store
from scrapers.specs import load_specs
from tests.scrapers.conftest import fast_crawl
from testkit.realdata import need
from testkit.server import FixtureServer, Page, make_pdf
from tests.scrapers.sites import SITES, localize
from transforms.extract.html import extract_html
from transforms.extract.options import ExtractOptions

MOCK_SITES = "3-guidelines/reach_mock_sites"
NICE_PAGE = f"{MOCK_SITES}/nice_wsf-scraper-web_tests_mock_sites_nice_2.html"
WHO_PAGE = f"{MOCK_SITES}/who_wsf-scraper-web_tests_mock_sites_who_2.html"
WHO_TITLE = ("Air pollution control: report on an inter-regional seminar convened by the World Health Organization "
             "in collaboration with the Government of the USSR")
NICE_PDF = "/guidance/mib171/resources/stonechecker-for-kidney-stone-evaluation-pdf-2285963632524229"


def _rules(spec: dict) -> dict:
    return {"content": spec["content"], "cleaning": spec["cleaning"]}


def _crawl(name: str, article_path: str, page: bytes, extra: dict, tmp_path):
    """The fixture site of `name` with one article page replaced by the saved real page."""
    routes, _expected = SITES[name]()
    routes[article_path] = Page(page)
    routes.update(extra)
    spec = load_specs()[name]
    server = FixtureServer(routes)
    server.__enter__()
    report = Crawler(localize(spec, server.base), str(tmp_path), fast_crawl()).run()
    return spec, server, report, list(read_raw_store(tmp_path))


def test_nice_saved_page_body(realdata, tmp_path):
    page = need(realdata, NICE_PAGE).read_bytes()
    spec, server, report, records = _crawl("nice", "/guidance/ng28", page,
                                           {NICE_PDF: Page(make_pdf("StoneChecker briefing"), "pdf")}, tmp_path)
    try:
        assert report.error is None and report.failed == 0, report.failures
        [raw] = [r for r in records if r.url.endswith("/guidance/ng28")]
        assert raw.content == page and raw.content_type == "html"
        [doc] = extract_html(raw, subset="guidelines", options=ExtractOptions(), rules=_rules(spec))
        assert doc.text == ("NICE has developed a medtech innovation briefing (MIB) on StoneChecker for kidney "
                            "stone evaluation.")  # menus, share/download widgets and breadcrumbs are gone
        assert doc.title.startswith("StoneChecker for kidney stone evaluation")
    finally:
        server.__exit__(None, None, None)


def test_nice_saved_page_title_and_pdf(realdata, tmp_path):
    page = need(realdata, NICE_PAGE).read_bytes()
    spec, server, report, records = _crawl("nice", "/guidance/ng28", page,
                                           {NICE_PDF: Page(make_pdf("StoneChecker briefing"), "pdf")}, tmp_path)
    try:
        [raw] = [r for r in records if r.url.endswith("/guidance/ng28")]
        [doc] = extract_html(raw, subset="guidelines", options=ExtractOptions(), rules=_rules(spec))
        assert any(r.url.endswith(NICE_PDF) for r in records)
        assert doc.title == "StoneChecker for kidney stone evaluation"
    finally:
        server.__exit__(None, None, None)


def test_who_saved_item_page(realdata, tmp_path):
    page = need(realdata, WHO_PAGE).read_bytes()
    bitstream = "/iris/bitstream/handle/10665/279983/EP-68.2-eng.pdf?sequence=1&isAllowed=y"
    extra = {bitstream: Page(make_pdf("Air pollution control"), "pdf"),
             "/handle/10665/foo.pdf": Page(make_pdf("Air pollution control, view/open"), "pdf")}
    spec, server, report, records = _crawl("who", "/handle/10665/9789240001", page, extra, tmp_path)
    try:
        assert report.error is None and report.failed == 0, report.failures
        pdfs = {r.url.split("/", 3)[3]: r for r in records if r.meta_dict().get("landing_url", "").endswith("9789240001")}
        # Both PDF links of the item page: the bitstream thumbnail link and the file-link "View/Open".
        assert sorted(pdfs) == ["handle/10665/foo.pdf", bitstream.lstrip("/")]
        assert all(r.meta_dict()["title"] == WHO_TITLE and r.content_type == "pdf" for r in pdfs.values())
        # WHO stores only the PDFs (store_html: false); the landing page itself still extracts right.
        raw = RawRecord.make(source="who", url=f"{server.base}/handle/10665/9789240001", fetched_at="2024-01-01T00:00:00Z",
                             content_type="html", content=page, license=spec["license"])
        [doc] = extract_html(raw, subset="guidelines", options=ExtractOptions(), rules=_rules(spec))
        assert doc.title == WHO_TITLE
        assert "dc.subject.mesh | Air Pollution" in doc.text and "dc.identifier.govdoc | EP/68.2" in doc.text
        assert "dc.date.issued | 1967" in doc.text and "<" not in doc.text
    finally:
        server.__exit__(None, None, None)
