import pytest

from scrapers.client import ClientSettings, HostRateLimiter
from scrapers.crawler import CrawlSettings
from testkit.server import Page

HTML = Page("<html><body><h1>ok</h1><p>fine</p></body></html>")


def fast_client(**kw) -> ClientSettings:
    """Loopback allowed, no rate limit, tiny backoffs: fault tests stay fast."""
    base = dict(allow_loopback=True, rate_limit_per_s=0, retries=2, backoff_factor_s=0.01, backoff_jitter_s=0.0,
                backoff_max_s=0.05, connect_timeout_s=2.0, read_timeout_s=2.0, body_retries=1,
                max_body_bytes=2 * 1024 * 1024, contact_url="https://example.org/gap-contact")
    base.update(kw)
    return ClientSettings(**base)


def fast_crawl(**kw) -> CrawlSettings:
    client_kw = kw.pop("client", {})
    return CrawlSettings(client=fast_client(**client_kw), flush_records=kw.pop("flush_records", 4), **kw)


@pytest.fixture
def limiter():
    return HostRateLimiter()
