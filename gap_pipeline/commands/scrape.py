"""`gap scrape`: Crawl sources into a raw store (issue: scrapers)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("scrape", help="Crawl sources into a raw store (issue: scrapers)", description="Crawl sources into a raw store (issue: scrapers)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SystemExit("gap scrape: not implemented yet")
