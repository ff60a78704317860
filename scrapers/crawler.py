"""The generic crawler: runs one declarative source spec into the raw store.

discover (listing pages, pagination, sitemaps, or the spec's hook) -> items -> fetch each item that
the store does not hold yet (or whose copy is older than `recrawl_after_days`, then with a
conditional GET) -> raw records appended by RawStoreWriter. Every outcome is counted in a
CrawlReport: fetched, unchanged, already stored, failed (by reason, with URLs), disallowed by robots.
"""
from __future__ import annotations

import collections
import dataclasses
import datetime as dt
import email.message
import logging
import re
import time
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from bs4 import BeautifulSoup
from defusedxml import ElementTree as SafeET

from schemas.raw import RawRecord
from scrapers.client import ClientSettings, FetchResult, PoliteClient
from scrapers.raw_store import RawStoreWriter
from scrapers.specs import load_hook

log = logging.getLogger(__name__)

KIND_TO_CONTENT_TYPE = {"html": "html", "pdf": "pdf", "json": "json", "text": "text", "xml": "pubmed-xml",
                        "pubmed-xml": "pubmed-xml", "jats": "jats"}


@dataclasses.dataclass(frozen=True)
class CrawlSettings:
    client: ClientSettings = ClientSettings()
    recrawl_after_days: float = 30.0      # stored copies younger than this are not refetched (resume)
    refresh: bool = False                 # refetch every stored page with a conditional GET
    max_articles: int | None = None       # stop after this many items (a smoke run)
    flush_records: int = 32
    source_budget_s: float | None = None  # wall-clock budget for the whole source (None/0: none); resumable


@dataclasses.dataclass(frozen=True)
class Item:
    """One thing to store: a URL and the kinds of content acceptable for it."""
    url: str
    accept: tuple[str, ...] = ("html",)
    meta: dict = dataclasses.field(default_factory=dict, compare=False, hash=False)


@dataclasses.dataclass
class CrawlReport:
    source: str
    listing_pages: int = 0
    discovered: int = 0
    fetched: int = 0          # new or changed content written
    unchanged: int = 0        # 304, or same sha256 as stored
    already_stored: int = 0   # skipped without a request (resume)
    disallowed: int = 0       # robots.txt
    failures: list[tuple[str, str, str]] = dataclasses.field(default_factory=list)  # (url, reason, detail)
    error: str | None = None  # the source as a whole failed (bad spec, hook crash...)
    stopped: str | None = None  # the source stopped early on purpose (time budget): not a failure, a re-run resumes
    seconds: float = 0.0

    def fail(self, url: str, reason: str, detail: str) -> None:
        if reason == "robots":
            self.disallowed += 1
        self.failures.append((url, reason, detail))

    @property
    def failed(self) -> int:
        return sum(1 for _, reason, _ in self.failures if reason != "robots")

    def reasons(self) -> dict[str, int]:
        return dict(sorted(collections.Counter(r for _, r, _ in self.failures).items()))

    def summary(self) -> dict[str, Any]:
        return {"source": self.source, "listing_pages": self.listing_pages, "discovered": self.discovered,
                "fetched": self.fetched, "unchanged": self.unchanged, "already_stored": self.already_stored,
                "failed": self.failed, "disallowed_by_robots": self.disallowed, "failure_reasons": self.reasons(),
                "error": self.error, "stopped": self.stopped, "seconds": round(self.seconds, 3)}


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _age_days(fetched_at: str) -> float:
    try:
        then = dt.datetime.strptime(fetched_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    except (TypeError, ValueError):
        return float("inf")
    return (dt.datetime.now(dt.timezone.utc) - then).total_seconds() / 86400


def canonical(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, ""))


def with_query_param(url: str, name: str, value: Any) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != name]
    query.append((name, str(value)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _matches(url: str, patterns: Iterable[str]) -> bool:
    return any(re.search(p, url) for p in patterns)


def _anchors(soup: BeautifulSoup, selectors: list[str]) -> list:
    if not selectors:
        return soup.find_all("a", href=True)
    found = []
    for selector in selectors:
        found.extend(a for a in soup.select(selector) if a.name == "a" and a.get("href"))
    return found


def parse_listing(html: bytes, page_url: str, discovery: dict) -> tuple[list[tuple[str, str]], list[str], list[str]]:
    """(articles as (url, anchor text), follow links, next-page links) found on one listing page."""
    soup = BeautifulSoup(html, "lxml")
    base = soup.find("base", href=True)
    base_url = urljoin(page_url, base["href"]) if base else page_url
    exclude = discovery.get("exclude_patterns", [])
    art_patterns = discovery.get("article_patterns", [])
    articles, seen = [], set()
    for a in _anchors(soup, discovery.get("article_selectors", [])):
        url = canonical(urljoin(base_url, a["href"].strip()))
        if url in seen or _matches(url, exclude) or (art_patterns and not _matches(url, art_patterns)):
            continue
        seen.add(url)
        articles.append((url, " ".join(a.get_text(" ", strip=True).split())))
    follows = []
    if discovery.get("follow_patterns") or discovery.get("follow_selectors"):
        for a in _anchors(soup, discovery.get("follow_selectors", [])):
            url = canonical(urljoin(base_url, a["href"].strip()))
            if url in seen or _matches(url, exclude):
                continue
            if not discovery.get("follow_patterns") or _matches(url, discovery["follow_patterns"]):
                follows.append(url)
    nexts = []
    pagination = discovery.get("pagination", {})
    if pagination.get("type") == "next_link":
        for a in soup.select(pagination["selector"]):
            if a.get("href"):
                nexts.append(canonical(urljoin(base_url, a["href"].strip())))
    return articles, follows, nexts


def parse_sitemap(xml: bytes) -> tuple[list[str], list[str]]:
    """(page URLs, child sitemap URLs) of a sitemap or sitemap index (entities refused)."""
    root = SafeET.fromstring(xml)
    locs = [el.text.strip() for el in root.iter() if el.tag.endswith("loc") and el.text]
    if root.tag.endswith("sitemapindex"):
        return [], locs
    return locs, []


def find_pdf_links(html: bytes, page_url: str, content: dict) -> list[tuple[str, str]]:
    soup = BeautifulSoup(html, "lxml")
    patterns = content.get("pdf_patterns", [])
    out, seen = [], set()
    anchors = _anchors(soup, content.get("pdf_selectors", [])) if content.get("pdf_selectors") else \
        soup.find_all("a", href=True)
    for a in anchors:
        url = canonical(urljoin(page_url, a["href"].strip()))
        if url in seen:
            continue
        if content.get("pdf_selectors") or _matches(url, patterns or [r"\.pdf$"]):
            seen.add(url)
            out.append((url, " ".join(a.get_text(" ", strip=True).split())))
    return out


def header_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header ("text/html; charset=windows-1252"), if any."""
    if not content_type:
        return None
    message = email.message.Message()
    message["content-type"] = content_type
    charset = message.get_param("charset")
    return str(charset).strip() or None if isinstance(charset, str) else None


def page_title(html: bytes, selector: str | None) -> str:
    soup = BeautifulSoup(html, "lxml")
    node = soup.select_one(selector) if selector else None
    node = node or soup.find("title")
    return " ".join(node.get_text(" ", strip=True).split()) if node else ""


class Crawler:
    """Runs one spec. `progress(event, url)` is called after each item (event: fetched, unchanged,
    stored, failed, disallowed) so the CLI can draw a bar."""

    def __init__(self, spec: dict, store_root: str, settings: CrawlSettings | None = None,
                 progress: Callable[[str, str], None] | None = None, client: PoliteClient | None = None):
        self.spec = spec
        self.source = spec["id"]
        self.store_root = str(store_root)
        self.settings = settings or CrawlSettings()
        client_settings = self.settings.client
        overrides = spec.get("crawl", {})
        if "rate_limit_per_s" in overrides and client_settings.rate_limit_per_s > 0:
            client_settings = dataclasses.replace(
                client_settings, rate_limit_per_s=min(client_settings.rate_limit_per_s, overrides["rate_limit_per_s"]))
        if overrides.get("respect_robots") is False:
            client_settings = dataclasses.replace(client_settings, respect_robots=False)
        if "max_body_bytes" in overrides:
            client_settings = dataclasses.replace(client_settings, max_body_bytes=overrides["max_body_bytes"])
        self.client = client or PoliteClient(spec["allowed_domains"], client_settings)
        self.progress = progress or (lambda event, url: None)
        self.report = CrawlReport(self.source)
        self.hook = load_hook(spec)
        self.writer: RawStoreWriter | None = None

    # -- discovery -----------------------------------------------------------------------------
    def start_urls(self) -> list[str]:
        disc = self.spec["discovery"]
        pagination = disc.get("pagination", {})
        urls = list(disc.get("start_urls", []))
        if pagination.get("type") == "az_index":
            letters = pagination.get("letters", "abcdefghijklmnopqrstuvwxyz")
            urls = [u.replace("{letter}", ch) for u in urls for ch in letters]
        return urls

    def discover(self) -> Iterator[Item]:
        """Every item of the source, each URL once, in a deterministic order."""
        if self.hook is not None and hasattr(self.hook, "discover"):
            seen = set()
            for item in self.hook.discover(self):
                if item.url not in seen:
                    seen.add(item.url)
                    self.report.discovered += 1
                    yield item
            return
        method = self.spec["discovery"]["method"]
        if method == "sitemap":
            yield from self._discover_sitemap()
        elif method == "links":
            yield from self._discover_links()
        else:
            raise ValueError(f"discovery method {method!r} needs a hook with discover()")

    def _article_accept(self) -> tuple[str, ...]:
        fmt = self.spec["content"]["format"]
        return {"html": ("html",), "pdf": ("pdf",), "html+pdf": ("html",), "json": ("json",),
                "pubmed-xml": ("xml",), "jats": ("xml",), "text": ("text",)}[fmt]

    def fetch_listing(self, url: str, accept=("html",)) -> FetchResult | None:
        result = self.client.fetch(url, accept=accept)
        self.report.listing_pages += 1
        if result.error == "budget":  # not the page's fault: the run stops, a re-run resumes
            self._budget_exhausted()
            return None
        if not result.ok:
            self.report.fail(url, result.error or f"http_{result.status}", result.detail or "listing page")
            self.progress("disallowed" if result.error == "robots" else "failed", url)
            return None
        return result

    def _discover_links(self) -> Iterator[Item]:
        disc = self.spec["discovery"]
        pagination = disc.get("pagination", {"type": "none"})
        max_depth = disc.get("max_depth", 1)
        max_pages = disc.get("max_pages", 10000)
        page_cap = pagination.get("max_pages", 10000)
        accept = self._article_accept()
        seen_articles: set[str] = set()
        seen_pages: set[str] = set()
        queue = collections.deque((url, 0, 0, url) for url in self.start_urls())  # (url, depth, page_no, origin)
        pages = 0
        while queue and pages < max_pages:
            url, depth, page_no, origin = queue.popleft()
            if url in seen_pages:
                continue
            seen_pages.add(url)
            pages += 1
            result = self.fetch_listing(url)
            if result is None:
                continue
            articles, follows, nexts = parse_listing(result.content, result.final_url or url, disc)
            new = 0
            for art_url, text in articles:
                if art_url in seen_articles:
                    continue
                seen_articles.add(art_url)
                new += 1
                self.report.discovered += 1
                yield Item(art_url, accept, {"title": text, "found_on": url})
            if depth < max_depth:
                queue.extend((f, depth + 1, 0, f) for f in follows)
            kind = pagination.get("type")
            if kind == "next_link" and page_no + 1 < page_cap:
                queue.extend((n, depth, page_no + 1, origin) for n in nexts[:1])
            elif kind == "page_param" and new and page_no + 1 < page_cap:
                start, step = pagination.get("start", 1), pagination.get("step", 1)
                queue.append((with_query_param(origin, pagination["param"], start + (page_no + 1) * step),
                              depth, page_no + 1, origin))

    def _discover_sitemap(self) -> Iterator[Item]:
        disc = self.spec["discovery"]
        patterns, exclude = disc.get("article_patterns", []), disc.get("exclude_patterns", [])
        queue, seen, emitted = collections.deque(self.start_urls()), set(), set()
        while queue:
            url = queue.popleft()
            if url in seen:
                continue
            seen.add(url)
            result = self.fetch_listing(url, accept=("xml", "text"))
            if result is None:
                continue
            try:
                pages, children = parse_sitemap(result.content)
            except Exception as exc:  # defusedxml raises several types; all mean "not a usable sitemap"
                self.report.fail(url, "bad_sitemap", str(exc)[:200])
                continue
            queue.extend(children)
            for page in pages:
                page = canonical(page)
                if page in emitted or _matches(page, exclude) or (patterns and not _matches(page, patterns)):
                    continue
                emitted.add(page)
                self.report.discovered += 1
                yield Item(page, self._article_accept(), {"found_on": url})

    # -- fetching ------------------------------------------------------------------------------
    def needs_fetch(self, url: str) -> tuple[bool, dict]:
        """(fetch?, conditional headers) for an item given what the store holds."""
        entry = self.writer.stored(url)
        if entry is None:
            return True, {}
        if self.settings.refresh or _age_days(entry.fetched_at) > self.settings.recrawl_after_days:
            return True, {"etag": entry.etag, "last_modified": entry.last_modified}
        return False, {}

    def store(self, item: Item, result: FetchResult, content_type: str | None = None,
              content: bytes | None = None, extra_meta: dict | None = None) -> bool:
        meta = {k: v for k, v in item.meta.items() if v not in (None, "")}
        if result.final_url and result.final_url != item.url:
            meta["final_url"] = result.final_url
        for header, key in (("ETag", "http_etag"), ("Last-Modified", "http_last_modified")):
            value = result.headers.get(header) or result.headers.get(header.lower())
            if value:
                meta[key] = value
        charset = header_charset(result.headers.get("Content-Type") or result.headers.get("content-type"))
        if charset:
            meta["charset"] = charset  # the HTTP-declared charset: the extractor's first choice after a BOM / UTF-8
        meta.update(extra_meta or {})
        record = RawRecord.make(source=self.source, url=item.url, fetched_at=now_iso(),
                                content_type=content_type or KIND_TO_CONTENT_TYPE.get(result.kind, "text"),
                                content=result.content if content is None else content,
                                http_status=result.status, license=self.spec["license"], meta=meta)
        return self.writer.add(record)

    def fetch_item(self, item: Item) -> None:
        wanted, conditional = self.needs_fetch(item.url)
        if not wanted:
            self.report.already_stored += 1
            self.progress("stored", item.url)
            return
        if self.hook is not None and hasattr(self.hook, "fetch_item"):
            outcome = self.hook.fetch_item(self, item, conditional)
        else:
            outcome = self._fetch_generic(item, conditional)
        self.progress(outcome, item.url)

    def _unusable(self, item: Item, result: FetchResult) -> str | None:
        """Count a result that brings nothing to store (not modified, budget spent, failed) and return its
        progress event; None for a usable result."""
        if result.not_modified:
            self.report.unchanged += 1
            return "unchanged"
        if result.error == "budget":
            self._budget_exhausted()
            return "stopped"
        if not result.ok:
            self.report.fail(item.url, result.error or f"http_{result.status}", result.detail)
            return "disallowed" if result.error == "robots" else "failed"
        return None

    def record_result(self, item: Item, result: FetchResult, **store_kw) -> str:
        """Store a fetch result or count its failure; returns the progress event."""
        event = self._unusable(item, result)
        if event is not None:
            return event
        if self.store(item, result, **store_kw):
            self.report.fetched += 1
            return "fetched"
        self.report.unchanged += 1
        return "unchanged"

    def _fetch_generic(self, item: Item, conditional: dict) -> str:
        content = self.spec["content"]
        if content["format"] != "html+pdf" or "pdf" in item.accept:
            return self.record_result(item, self.client.fetch(item.url, accept=item.accept, **conditional))
        # A landing page whose PDFs are the documents.
        visited = self.writer.visited(item.url)
        if visited is not None and not self.settings.refresh and all(u in self.writer for u in visited):
            self.report.already_stored += 1
            return "stored"
        result = self.client.fetch(item.url, accept=("html", "pdf"), **conditional)
        if result.ok and result.kind == "pdf":  # the link pointed straight at a PDF
            return self.record_result(item, result)
        if content.get("store_html", True):
            event = self.record_result(item, result)
        else:
            event = self._unusable(item, result) or "fetched"
            if event != "fetched":
                return event
        if not result.ok:
            return event
        title = page_title(result.content, content.get("title_selector")) or item.meta.get("title", "")
        pdfs = find_pdf_links(result.content, result.final_url or item.url, content)
        if not pdfs and not content.get("store_html", True):
            self.report.fail(item.url, "no_pdf_link", "landing page has no PDF link")
            return "failed"
        for pdf_url, text in pdfs:
            pdf_item = Item(pdf_url, ("pdf",), {"title": title or text, "landing_url": item.url})
            wanted, cond = self.needs_fetch(pdf_url)
            if not wanted:
                self.report.already_stored += 1
                continue
            event = self.record_result(pdf_item, self.client.fetch(pdf_url, accept=("pdf",), **cond))
        self.writer.mark_visited(item.url, [u for u, _ in pdfs])
        return event

    # -- the run -------------------------------------------------------------------------------
    def _budget_exhausted(self) -> None:
        if self.report.stopped is None:
            self.report.stopped = (f"time budget of {self.settings.source_budget_s:g}s (scrape.source_budget_s) "
                                   "exhausted; a re-run resumes")

    def run(self) -> CrawlReport:
        started = time.monotonic()
        if self.settings.source_budget_s:
            # Every request of this source (listing pages, articles, robots.txt) ends by this time.
            self.client.stop_at = started + self.settings.source_budget_s
        try:
            with RawStoreWriter(self.store_root, self.source, flush_records=self.settings.flush_records) as writer:
                self.writer = writer
                count = 0
                for item in self.discover():
                    if self.settings.max_articles is not None and count >= self.settings.max_articles:
                        break
                    if self.report.stopped or (self.client.stop_at is not None
                                               and time.monotonic() >= self.client.stop_at):
                        self._budget_exhausted()
                        break
                    count += 1
                    try:
                        self.fetch_item(item)
                    except Exception as exc:  # one bad page never stops the source
                        log.exception("%s: error on %s", self.source, item.url)
                        self.report.fail(item.url, "crawler_error", f"{type(exc).__name__}: {exc}")
                        self.progress("failed", item.url)
                self.report.seconds = time.monotonic() - started
                writer.flush()
                writer.write_last_scrape({**self.report.summary(), "finished_at": now_iso()})
        except Exception as exc:  # one failing source never stops the others
            log.exception("%s: source failed", self.source)
            self.report.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.client.close()
        self.report.seconds = time.monotonic() - started
        return self.report

    def dry_run(self, limit: int = 50) -> tuple[list[Item], CrawlReport]:
        """Discovery only (no article fetched): the first `limit` items and the report."""
        items = []
        try:
            for item in self.discover():
                items.append(item)
                if len(items) >= limit:
                    break
        except Exception as exc:
            self.report.error = f"{type(exc).__name__}: {exc}"
        finally:
            self.client.close()
        return items, self.report


def crawl_source(spec: dict, store_root: str, settings: CrawlSettings | None = None,
                 progress: Callable[[str, str], None] | None = None) -> CrawlReport:
    return Crawler(spec, store_root, settings, progress).run()
