"""`gap scrape`: crawl sources into a raw store, politely and resumably.

One thread per source (at most `scrape.jobs` at once), one polite client per source, one progress bar
per source, and a closing summary. Bulk sources (specs with `bulk:` — pmc, pubmed, replay) are filled
by `scrapers.bulk.run_bulk` with the `scrape.bulk` settings; they run only when named in --sources
(a default run never starts a multi-hundred-GB download). One failing source never stops the others; the exit code is 0 when
nothing failed, 1 when any page or source failed (robots.txt refusals are reported, not failures). An invalid spec
file is reported in one line and skipped, unless it is named in --sources (then exit 2). A source that
reaches `scrape.source_budget_s` stops and is reported STOPPED (not a failure; a re-run resumes).
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import sys
from pathlib import Path

from gap_pipeline.commands.args import non_negative_float, positive_int


def register(sub) -> None:
    p = sub.add_parser("scrape", help="Crawl sources into a raw store (resumable)",
                       description="Crawl guideline sources into a raw store of Parquet parts. Re-running resumes: "
                                   "stored pages are not fetched again until they are older than "
                                   "scrape.recrawl_after_days, then only with a conditional GET.")
    p.add_argument("--sources", default="", help="comma-separated source ids (default: every crawled source; bulk sources "
                                                  "pmc, pubmed, replay only when named)")
    p.add_argument("--out", required=True, help="raw store folder (local path or fsspec URL)")
    p.add_argument("--config", help="corpus YAML whose `scrape` section sets politeness (default: shipped defaults)")
    p.add_argument("--specs-dir", help="the corpus's own specs folder, beside the shipped specs (default: the "
                                        "config's specs_dir); a spec there with a shipped name replaces it")
    p.add_argument("--refresh", action="store_true", help="re-check every stored page (conditional GET)")
    p.add_argument("--max-articles", type=positive_int, help="stop each source after this many articles (smoke run)")
    p.add_argument("--jobs", type=positive_int, help="sources crawled at once (default: scrape.jobs)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (logs and summary only)")
    p.add_argument("--summary-json", help="also write the summary as JSON to this file")
    p.add_argument("--allow-loopback", action="store_true", help=argparse.SUPPRESS)  # tests only
    p.add_argument("--rate-limit", type=non_negative_float, help=argparse.SUPPRESS)  # tests and benchmarks
    p.set_defaults(func=run)


def format_summary(reports) -> str:
    head = f"{'source':<18} {'found':>6} {'fetched':>8} {'unchanged':>9} {'stored':>7} {'failed':>7} {'robots':>7}  reasons"
    lines = [head, "-" * len(head)]
    for r in reports:
        s = r.summary()
        reasons = ", ".join(f"{k}={v}" for k, v in s["failure_reasons"].items() if k != "robots")
        if s["error"]:
            reasons = f"SOURCE FAILED: {s['error']}" + (f"; {reasons}" if reasons else "")
        elif s.get("stopped"):
            reasons = f"STOPPED: {s['stopped']}" + (f"; {reasons}" if reasons else "")
        lines.append(f"{s['source']:<18} {s['discovered']:>6} {s['fetched']:>8} {s['unchanged']:>9} "
                     f"{s['already_stored']:>7} {s['failed']:>7} {s['disallowed_by_robots']:>7}  {reasons}")
    return "\n".join(lines)


def run(args) -> int:
    from tqdm import tqdm

    from gap_pipeline.config import ConfigError, load_config
    from scrapers.bulk import run_bulk
    from scrapers.crawler import CrawlReport, Crawler, CrawlSettings
    from scrapers.settings import bulk_settings, client_settings
    from scrapers.specs import SpecError, load_corpus_specs_checked

    specs_dir = Path(args.specs_dir) if args.specs_dir else None
    if specs_dir is not None and not specs_dir.is_dir():
        print(f"gap scrape: --specs-dir {specs_dir}: specs folder not found (not a folder)", file=sys.stderr)
        return 2
    try:
        cfg = load_config(args.config)
        specs, bad_specs = load_corpus_specs_checked(args.specs_dir or cfg.specs_dir or None)
    except (ConfigError, SpecError) as exc:
        print(f"gap scrape: {exc}", file=sys.stderr)
        return 2
    section = cfg.scrape
    named = [s.strip() for s in args.sources.split(",") if s.strip()]
    selected_bad = [name for name in named if name in bad_specs]
    for name, problem in bad_specs.items():  # one line each; only a selected bad source stops the run
        if name not in selected_bad:
            print(f"gap scrape: skipping invalid spec: {problem}", file=sys.stderr)
    if selected_bad:
        for name in selected_bad:
            print(f"gap scrape: error: {bad_specs[name]}", file=sys.stderr)
        return 2
    wanted = named or [n for n, s in specs.items() if s["discovery"]["method"] != "bulk"]
    unknown = [s for s in wanted if s not in specs]
    if unknown:
        print(f"gap scrape: unknown sources {unknown} (known: {', '.join(specs)})", file=sys.stderr)
        return 2
    settings = CrawlSettings(
        client=client_settings(section, allow_loopback=args.allow_loopback or None,
                                           rate_limit_per_s=args.rate_limit),
        recrawl_after_days=section.recrawl_after_days, refresh=args.refresh,
        max_articles=args.max_articles, source_budget_s=section.source_budget_s or None)
    bulk = bulk_settings(section, allow_loopback=args.allow_loopback or None,
                         max_articles=args.max_articles)
    names = list(wanted)
    bars = {}
    if not args.no_progress:
        for i, name in enumerate(names):
            unit = "record" if specs[name]["discovery"]["method"] == "bulk" else "page"
            bars[name] = tqdm(desc=f"{name:<18}", unit=unit, position=i, leave=True, dynamic_ncols=True,
                              file=sys.stderr)

    def progress_for(name):
        counts = {"fetched": 0, "unchanged": 0, "stored": 0, "failed": 0, "disallowed": 0}

        def progress(event, url):
            counts[event] = counts.get(event, 0) + 1
            bar = bars.get(name)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(new=counts["fetched"], same=counts["unchanged"] + counts["stored"],
                                failed=counts["failed"], robots=counts["disallowed"])
        return progress

    def crawl(name):
        if specs[name]["discovery"]["method"] == "bulk":
            return run_bulk(specs[name], args.out, bulk, progress_for(name))
        return Crawler(specs[name], args.out, settings, progress_for(name)).run()

    jobs = max(1, args.jobs or section.jobs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {name: pool.submit(crawl, name) for name in names}
        crawled = []
        for name in names:
            try:
                crawled.append(futures[name].result())
            except Exception as exc:  # Crawler.run already catches; this is the last guard
                report = CrawlReport(name)
                report.error = f"{type(exc).__name__}: {exc}"
                crawled.append(report)
    for bar in bars.values():
        bar.close()
    reports = crawled
    print(format_summary(reports))
    for r in reports:
        for url, reason, detail in r.failures[:20]:
            if reason != "robots":
                print(f"  {r.source}: {reason}: {url} ({detail})")
        if r.failed > 20:
            print(f"  {r.source}: ... and {r.failed - 20} more failures")
    if args.summary_json:
        Path(args.summary_json).write_text(json.dumps([r.summary() for r in reports], indent=1, sort_keys=True))
    any_failed = any(r.failed or r.error for r in reports)
    return 1 if any_failed else 0
