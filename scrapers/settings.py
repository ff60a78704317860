"""Config section `scrape` (and its `bulk` sub-section): what `gap scrape` reads, declared once (type, range,
doc) like every section (schemas/settings.py); gap_pipeline/config.py composes it into `CorpusConfig`.

The HTTP client and the bulk fetchers keep their own runtime settings (`ClientSettings`, `BulkSettings`:
they hold more than the config gives, e.g. test-only loopback); `client_settings` and `bulk_settings` derive
them from the section, key by key.
"""
from __future__ import annotations

from typing import Any, Literal

from schemas.settings import F, Section


class BulkSection(Section):
    """Config section `scrape.bulk`: the bulk sources (pmc, pubmed, replay)."""
    pmc_base_url: str = F(min_length=1, doc="PMC OA bulk packages")
    pmc_groups: list[Literal["oa_comm", "oa_noncomm", "oa_other"]] = F(doc="PMC licence groups")
    pubmed_base_url: str = F(min_length=1, doc="PubMed baseline and update files")
    pubmed_folders: list[Literal["baseline", "updatefiles"]] = F(doc="PubMed folders read")
    cache_dir: str = F(doc="downloads and incremental state; '' = <out>/_bulk/<source>")
    keep_downloads: bool = F(doc="keep packages after their records are stored")
    max_member_bytes: int = F(gt=0, doc="larger tar members are refused")
    replay_paths: list[str] = F(doc="fsspec paths/globs of general-domain text")
    replay_token_budget: int = F(ge=0, doc="estimated tokens of replay to sample")
    replay_seed: int = F(ge=0, doc="seed of the replay sample")
    replay_text_field: str = F(min_length=1, doc="text field of replay records")
    replay_id_field: str = F(min_length=1, doc="id field of replay records")
    replay_chars_per_token: float = F(gt=0.0, doc="characters per token when estimating the budget")


class ScrapeSection(Section):
    """Config section `scrape`: `gap scrape` politeness (not hashed: it changes how pages are fetched)."""
    contact_url: str = F(min_length=1, doc="who you are, put in the User-Agent")
    rate_limit_per_s: float = F(gt=0.0, doc="requests per second per host")
    connect_timeout_s: float = F(gt=0.0, doc="seconds to connect")
    read_timeout_s: float = F(gt=0.0, doc="seconds to wait for each read")
    request_deadline_s: float = F(gt=0.0, doc="seconds for a whole request: connect, retries and all reads")
    source_budget_s: float = F(ge=0.0, doc="seconds per crawled source (0 = no limit); a re-run resumes")
    retries: int = F(ge=0, doc="retries on 429/5xx/connection errors")
    backoff_factor_s: float = F(ge=0.0, doc="exponential backoff base")
    max_retry_after_s: float = F(ge=0.0, doc="longest Retry-After honoured")
    max_body_bytes: int = F(gt=0, doc="larger responses are refused")
    max_redirects: int = F(ge=0, doc="redirects followed")
    recrawl_after_days: float = F(ge=0.0, doc="stored pages younger than this are not refetched")
    jobs: int = F(ge=1, doc="sources crawled in parallel")
    bulk: BulkSection = F(doc="bulk sources (pmc, pubmed, replay)")


def client_settings(scrape: ScrapeSection, **overrides: Any):
    """The HTTP client's settings from the `scrape` section; `overrides` that are not None win (CLI flags)."""
    from scrapers.client import ClientSettings
    s = scrape
    values: dict[str, Any] = dict(
        contact_url=s.contact_url, rate_limit_per_s=s.rate_limit_per_s, connect_timeout_s=s.connect_timeout_s,
        read_timeout_s=s.read_timeout_s, request_deadline_s=s.request_deadline_s, retries=s.retries,
        backoff_factor_s=s.backoff_factor_s, max_retry_after_s=s.max_retry_after_s, max_body_bytes=s.max_body_bytes,
        max_redirects=s.max_redirects)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ClientSettings(**values)


def bulk_settings(scrape: ScrapeSection, **overrides: Any):
    """The bulk fetchers' settings: the `scrape.bulk` section plus the shared politeness keys (contact,
    retries, read timeout); `overrides` that are not None win."""
    from scrapers.bulk.run import BulkSettings
    b = scrape.bulk
    values: dict[str, Any] = dict(
        pmc_base_url=b.pmc_base_url, pmc_groups=tuple(b.pmc_groups), pubmed_base_url=b.pubmed_base_url,
        pubmed_folders=tuple(b.pubmed_folders), cache_dir=b.cache_dir, keep_downloads=b.keep_downloads,
        max_member_bytes=b.max_member_bytes, replay_paths=tuple(b.replay_paths),
        replay_token_budget=b.replay_token_budget, replay_seed=b.replay_seed, replay_text_field=b.replay_text_field,
        replay_id_field=b.replay_id_field, replay_chars_per_token=b.replay_chars_per_token,
        contact_url=scrape.contact_url, retries=scrape.retries, timeout_s=float(scrape.read_timeout_s))
    values.update({k: v for k, v in overrides.items() if v is not None})
    return BulkSettings(**values)
