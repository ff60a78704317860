"""scrapers/settings.py: the `scrape` section, and the client's and bulk fetchers' settings derived from it."""
from __future__ import annotations

from gap_pipeline.config import validate_config
from scrapers.settings import ScrapeSection, bulk_settings, client_settings


def test_client_settings_come_from_the_scrape_section_and_flags_win():
    cfg = validate_config({"scrape": {"rate_limit_per_s": 0.25, "retries": 7, "read_timeout_s": 12,
                                      "contact_url": "https://example.org/me"}})
    assert isinstance(cfg.scrape, ScrapeSection)
    client = client_settings(cfg.scrape)
    assert (client.rate_limit_per_s, client.retries, client.read_timeout_s, client.contact_url) == \
        (0.25, 7, 12.0, "https://example.org/me")
    assert client.max_body_bytes == cfg.scrape.max_body_bytes and client.max_redirects == cfg.scrape.max_redirects
    flagged = client_settings(cfg.scrape, rate_limit_per_s=None, allow_loopback=True)
    assert flagged.rate_limit_per_s == 0.25 and flagged.allow_loopback   # None: the section's value stays


def test_bulk_settings_take_the_bulk_section_and_the_shared_politeness_keys():
    cfg = validate_config({"scrape": {"retries": 2, "read_timeout_s": 45,
                                      "bulk": {"pmc_groups": ["oa_comm", "oa_other"], "replay_token_budget": 500}}})
    bulk = bulk_settings(cfg.scrape, max_articles=3, allow_loopback=None)
    assert bulk.pmc_groups == ("oa_comm", "oa_other") and bulk.replay_token_budget == 500
    assert (bulk.retries, bulk.timeout_s, bulk.contact_url) == (2, 45.0, cfg.scrape.contact_url)
    assert bulk.max_articles == 3 and bulk.allow_loopback is False
    assert bulk.pubmed_folders == tuple(cfg.scrape.bulk.pubmed_folders)
