"""Bulk acquisition: PMC Open Access packages, PubMed baseline/update files, replay text.

Each fetcher yields `schemas.raw.RawRecord`s (the caller adds them to a `scrapers.raw_store.RawStoreWriter`)
and keeps a small JSON state file so that a re-run only fetches what is new (incremental updates).
`run_bulk(spec, out_root, settings)` does all of that for one source spec, as `gap scrape` needs it.
"""
from scrapers.bulk.run import FETCHERS, BulkSettings, run_bulk

__all__ = ["BulkSettings", "FETCHERS", "run_bulk"]
