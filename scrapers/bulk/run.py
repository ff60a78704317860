"""`run_bulk`: fill one bulk source (pmc, pubmed, replay) into the raw store, as `gap scrape` does.

The spec's `bulk` key names the fetcher; the spec gives the source id, licence and allowed hosts;
`BulkSettings` (from config section `scrape.bulk`: scrapers/settings.py `bulk_settings`) gives the feeds' base URLs, the download cache and the
replay sample. Records go through `RawStoreWriter` (a record already stored with the same content is
counted `unchanged`), and the outcome is a `scrapers.crawler.CrawlReport`, so the CLI prints, counts
and exits on bulk sources exactly as on crawled ones. A fetcher marks a package/file done only after
the writer has flushed its records, so a run killed at any moment resumes without losing data.
"""
from __future__ import annotations

import dataclasses
import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from schemas.raw import RawRecord
from scrapers.bulk.download import BulkDownloader, DownloadError
from scrapers.bulk.pmc import PmcOaFetcher
from scrapers.bulk.pubmed import PubmedFetcher
from scrapers.bulk.replay import sample_replay
from scrapers.crawler import CrawlReport, now_iso
from scrapers.raw_store import RawStoreWriter

log = logging.getLogger(__name__)

FETCHERS = ("pmc_oa", "pubmed_baseline", "replay")  # values of a spec's `bulk` key


@dataclasses.dataclass(frozen=True)
class BulkSettings:
    pmc_base_url: str = "https://ftp.ncbi.nlm.nih.gov/pub/pmc/oa_bulk"
    pmc_groups: tuple[str, ...] = ("oa_comm",)
    pubmed_base_url: str = "https://ftp.ncbi.nlm.nih.gov/pubmed"
    pubmed_folders: tuple[str, ...] = ("baseline", "updatefiles")
    cache_dir: str = ""                 # downloads + state; default <out_root>/_bulk/<source> (hidden from readers)
    keep_downloads: bool = False
    max_member_bytes: int = 256 << 20
    replay_paths: tuple[str, ...] = ()
    replay_token_budget: int = 0
    replay_seed: int = 0
    replay_text_field: str = "text"
    replay_id_field: str = "id"
    replay_chars_per_token: float = 4.0
    contact_url: str = "https://github.com/gap-pipeline/gap_pipeline"
    retries: int = 4
    timeout_s: float = 60.0
    allow_loopback: bool = False        # tests only
    max_articles: int | None = None     # stop after this many records (smoke run)
    flush_records: int = 64


def _cache_dir(spec: dict, out_root: str, settings: BulkSettings) -> Path:
    if settings.cache_dir:
        return Path(settings.cache_dir) / spec["id"]
    root = str(out_root)
    if "://" in root and not root.startswith("file://"):
        raise ValueError(f"raw store {root} is not local: set scrape.bulk.cache_dir for downloads and state")
    return Path(root.removeprefix("file://")) / "_bulk" / spec["id"]


def _downloader(spec: dict, cache: Path, settings: BulkSettings) -> BulkDownloader:
    return BulkDownloader(spec.get("allowed_domains", []), cache / "downloads",
                          allow_loopback=settings.allow_loopback, retries=settings.retries,
                          timeout_s=settings.timeout_s, user_agent=f"gap_pipeline-bulk/0.1 (+{settings.contact_url})")


def run_bulk(spec: dict, out_root: str | os.PathLike, settings: BulkSettings | None = None,
             progress: Callable[[str, str], None] | None = None) -> CrawlReport:
    """Fetch one bulk source into `out_root`; never raises (a failure is in the report).

    Report fields as for crawled sources: `fetched` (new or changed records written), `unchanged`
    (same content already stored), `failed` with reasons (bad packages/files, refused tar members),
    `error` when the source as a whole failed. `progress(event, url)` as in the crawler."""
    settings = settings or BulkSettings()
    progress = progress or (lambda event, url: None)
    report = CrawlReport(spec.get("id", "?"))
    started = time.monotonic()
    try:
        kind = spec.get("bulk")
        if kind not in FETCHERS:
            raise ValueError(f"spec {spec.get('id')!r}: unknown bulk fetcher {kind!r} (known: {', '.join(FETCHERS)})")
        with RawStoreWriter(out_root, spec["id"], flush_records=settings.flush_records) as writer:
            if kind == "replay":
                records: Iterable[RawRecord] = _replay_records(spec, settings)
                _store_all(records, writer, report, progress, settings)
            else:
                cache = _cache_dir(spec, str(out_root), settings)
                downloader = _downloader(spec, cache, settings)
                if kind == "pmc_oa":
                    fetcher: Any = PmcOaFetcher(downloader, settings.pmc_base_url, groups=settings.pmc_groups,
                                                state_path=str(cache / "state.json"),
                                                max_member_bytes=settings.max_member_bytes,
                                                keep_packages=settings.keep_downloads, source=spec["id"],
                                                checkpoint=writer.flush)
                else:
                    fetcher = PubmedFetcher(downloader, settings.pubmed_base_url, folders=settings.pubmed_folders,
                                            state_path=str(cache / "state.json"), keep_files=settings.keep_downloads,
                                            source=spec["id"], checkpoint=writer.flush)
                try:
                    _store_all(fetcher.fetch(), writer, report, progress, settings)
                finally:
                    _report_fetcher_failures(fetcher, report, progress)
            writer.flush()
            report.seconds = time.monotonic() - started
            writer.write_last_scrape({**report.summary(), "finished_at": now_iso()})
    except (DownloadError, ValueError, OSError) as exc:
        log.error("%s: bulk source failed: %s", report.source, exc)
        report.error = f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # one failing source never stops the others
        log.exception("%s: bulk source failed", report.source)
        report.error = f"{type(exc).__name__}: {exc}"
    report.seconds = time.monotonic() - started
    return report


def _replay_records(spec: dict, settings: BulkSettings) -> Iterable[RawRecord]:
    if not settings.replay_paths or settings.replay_token_budget <= 0:
        raise ValueError("replay: set scrape.bulk.replay_paths and a positive scrape.bulk.replay_token_budget")
    return sample_replay(list(settings.replay_paths), token_budget=settings.replay_token_budget,
                         seed=settings.replay_seed, text_field=settings.replay_text_field,
                         id_field=settings.replay_id_field, chars_per_token=settings.replay_chars_per_token,
                         source=spec["id"], license=spec.get("license", "unknown"))


def _store_all(records: Iterable[RawRecord], writer: RawStoreWriter, report: CrawlReport,
               progress: Callable[[str, str], None], settings: BulkSettings) -> None:
    count = 0
    iterator = iter(records)
    try:
        for record in iterator:
            if settings.max_articles is not None and count >= settings.max_articles:
                break
            count += 1
            report.discovered += 1
            if writer.add(record):
                report.fetched += 1
                progress("fetched", record.url)
            else:
                report.unchanged += 1
                progress("unchanged", record.url)
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()  # a generator stopped early still cleans up its downloads


def _report_fetcher_failures(fetcher: Any, report: CrawlReport, progress: Callable[[str, str], None]) -> None:
    for url, reason in getattr(fetcher, "failed", []):
        code = reason.split(":", 1)[0].strip() or "download"
        if not code.replace("_", "").isalnum() or code.startswith("http"):
            code = "download"
        report.fail(url, code, reason)
        progress("failed", url)
    for package, member, reason in getattr(fetcher, "refused", []):
        report.fail(f"{package}!{member}", reason.split(":", 1)[0], f"tar member refused: {reason}")
        progress("failed", f"{package}!{member}")
    stats = getattr(fetcher, "stats", {})
    if stats.get("retracted"):
        log.info("%s: %d retracted articles skipped", report.source, stats["retracted"])
