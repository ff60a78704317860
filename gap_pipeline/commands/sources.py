"""`gap sources`: List, check and add guideline source specs (issue: scrapers)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("sources", help="List, check and add guideline source specs (issue: scrapers)", description="List, check and add guideline source specs (issue: scrapers)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SystemExit("gap sources: not implemented yet")
