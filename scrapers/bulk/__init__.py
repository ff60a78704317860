"""Bulk acquisition: PMC Open Access packages, PubMed baseline/update files, replay text.

Each fetcher yields `schemas.raw.RawRecord`s (the caller adds them to a `scrapers.raw_store.RawStoreWriter`)
and keeps a small JSON state file so that a re-run only fetches what is new (incremental updates).
"""
