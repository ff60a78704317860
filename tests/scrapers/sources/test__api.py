"""scrapers/sources/_api.py: the JSON-API hooks' helpers, run on a real Crawler whose HTTP client serves canned
results: listing pages read as JSON, items stored as HTML pages, bad bodies failed by the reason named."""
from __future__ import annotations

import json

import pytest

from schemas.raw import RawRecord
from scrapers.client import FetchResult
from scrapers.crawler import Crawler, Item
from scrapers.sources._api import dig, fetch_json_page, get_json, html_document
from transforms.extract import extract_record
from transforms.extract.options import ExtractOptions

API = "https://api.example.org/v1"
ODD = "Soins\u2028intensifs – α"  # legal raw inside JSON strings


class _Client:
    """Answers each URL with a canned FetchResult and remembers every call."""

    def __init__(self, results: dict[str, FetchResult]):
        self.results, self.calls = results, []

    def fetch(self, url, **kw):
        self.calls.append((url, kw))
        return self.results[url]


class _Writer:
    def __init__(self):
        self.records: list[RawRecord] = []

    def add(self, record: RawRecord) -> bool:
        self.records.append(record)
        return True


def _ok(url: str, body: bytes | str, status: int = 200, error: str | None = None) -> FetchResult:
    return FetchResult(url=url, status=status, kind="json", error=error,
                       content=body.encode() if isinstance(body, str) else body)


def _crawler(*results: FetchResult) -> Crawler:
    spec = {"id": "api", "license": "CC-BY-4.0", "allowed_domains": ["api.example.org"], "discovery": {}}
    crawler = Crawler(spec, "unused", client=_Client({r.url: r for r in results}))
    crawler.writer = _Writer()
    return crawler


def test_get_json_reads_a_listing_page_as_json_and_counts_it():
    url = f"{API}/list?page=1"
    crawler = _crawler(_ok(url, json.dumps({"items": [{"name": ODD}]}, ensure_ascii=False)))
    assert get_json(crawler, url) == {"items": [{"name": ODD}]}
    assert crawler.client.calls == [(url, {"accept": ("json",)})]
    assert crawler.report.listing_pages == 1 and crawler.report.failures == []


@pytest.mark.parametrize("body, detail", [
    ("<html>maintenance</html>", "Expecting value"),
    ('{"items": [', "Expecting value"),  # truncated
    (b'{"name": "caf\xe9"}', "can't decode byte 0xe9"),  # not UTF-8
])
def test_get_json_fails_a_body_that_is_not_json_as_bad_json(body, detail):
    url = f"{API}/list?page=2"
    crawler = _crawler(_ok(url, body))
    assert get_json(crawler, url) is None
    [(failed_url, reason, text)] = crawler.report.failures
    assert (failed_url, reason) == (url, "bad_json") and detail in text


def test_get_json_of_a_failed_fetch_is_none_and_one_failure():
    url = f"{API}/list?page=3"
    crawler = _crawler(_ok(url, "", status=503))
    assert get_json(crawler, url) is None
    assert [(u, r) for u, r, _ in crawler.report.failures] == [(url, "http_503")]


def test_a_long_rejection_is_cut_to_200_characters():
    item = Item(f"{API}/g/11", ("json",))
    crawler = _crawler(_ok(item.url, "{}"))

    def wordy(_item, _data):
        raise ValueError("no sections: " + "x" * 1000)

    assert fetch_json_page(crawler, item, {}, wordy, "bad_json") == "failed"
    assert crawler.report.failures == [(item.url, "bad_json", ("no sections: " + "x" * 1000)[:200])]


def test_dig_follows_dotted_keys_through_objects_only():
    data = {"data": {"items": [1, 2], "meta": {"total": 0}}, "": "empty key"}
    assert dig(data, "data.items") == [1, 2]
    assert dig(data, "data.meta.total") == 0
    assert dig(data, ".data..meta.") == {"total": 0}  # empty parts skipped
    assert dig(data, "") is data
    assert dig(data, "data.missing.deeper") is None
    assert dig(data, "data.items.0") is None  # lists are not indexed
    assert dig([data], "data") is None and dig(None, "a") is None


def test_html_document_escapes_the_title_and_keeps_the_body_markup():
    page = html_document('Fever <5 & "rash"', "<p>Give <b>fluids</b>.</p>")
    text = page.decode("utf-8")
    assert text.count("Fever &lt;5 &amp; &quot;rash&quot;") == 2  # in <title> and in <h1>
    assert "<p>Give <b>fluids</b>.</p>" in text
    assert '<meta charset="utf-8">' in text
    assert html_document(None, "") == html_document("", "")
    assert "<title></title>" in html_document(None, "").decode()


def test_an_html_document_reads_back_through_the_html_extractor():
    body = "<p>" + " ".join(["Adults with fever should be assessed for sepsis within one hour."] * 6) + "</p>"
    raw = RawRecord.make(source="api", url=f"{API}/g/1", fetched_at="2026-01-01T00:00:00+00:00",
                         content_type="html", content=html_document(ODD, body), license="CC-BY-4.0")
    [doc] = extract_record(raw, subset="guidelines", options=ExtractOptions())
    assert doc.title == ODD
    assert "assessed for sepsis within one hour" in doc.text


def _page(item, data):
    return data["title"], "".join(f"<p>{p}</p>" for p in data["paragraphs"]), {"api_url": item.url, "n": data["n"]}


def test_fetch_json_page_stores_the_item_as_an_html_page():
    item = Item(f"{API}/g/7", ("json",), {"title": "from listing", "guideline_id": "7"})
    body = json.dumps({"title": ODD, "paragraphs": ["one", "two"], "n": 7}, ensure_ascii=False)
    crawler = _crawler(_ok(item.url, body))
    assert fetch_json_page(crawler, item, {"etag": '"v1"'}, _page, "bad_json") == "fetched"
    assert crawler.client.calls == [(item.url, {"accept": ("json",), "etag": '"v1"'})]
    [record] = crawler.writer.records
    record.validate()
    assert record.content_type == "html" and record.content == html_document(ODD, "<p>one</p><p>two</p>")
    assert record.meta_dict() == {"title": "from listing", "guideline_id": "7", "api_url": item.url, "n": 7}
    assert crawler.report.fetched == 1 and crawler.report.failures == []


@pytest.mark.parametrize("body, detail", [
    ("not json", "Expecting value"),                              # ValueError from json
    (b"\xff\xfe", "can't decode byte 0xff"),                       # UnicodeDecodeError
    ('{"paragraphs": [], "n": 1}', "'title'"),                     # KeyError in to_page
    ('{"title": "T", "paragraphs": 5, "n": 1}', "not iterable"),   # TypeError in to_page
    ('["a list"]', "list indices must be integers"),               # TypeError: not an object
])
def test_fetch_json_page_fails_a_bad_body_by_the_reason_given_and_stores_nothing(body, detail):
    item = Item(f"{API}/g/8", ("json",))
    crawler = _crawler(_ok(item.url, body))
    assert fetch_json_page(crawler, item, {}, _page, "api_error") == "failed"
    [(url, reason, text)] = crawler.report.failures
    assert (url, reason) == (item.url, "api_error") and detail in text
    assert crawler.writer.records == []


def test_fetch_json_page_hands_unusable_results_back_to_the_crawler():
    gone, same = Item(f"{API}/g/9", ("json",)), Item(f"{API}/g/10", ("json",))
    crawler = _crawler(_ok(gone.url, "", status=404), _ok(same.url, "", status=304))
    never = lambda item, data: pytest.fail("to_page called for an unusable result")  # noqa: E731
    assert fetch_json_page(crawler, gone, {}, never, "bad_json") == "failed"
    assert fetch_json_page(crawler, same, {"last_modified": "x"}, never, "bad_json") == "unchanged"
    assert [(u, r) for u, r, _ in crawler.report.failures] == [(gone.url, "http_404")]
    assert crawler.report.unchanged == 1 and crawler.writer.records == []
