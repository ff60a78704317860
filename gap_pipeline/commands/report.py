"""`gap report`: Write a corpus report with plots (issue: shards)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("report", help="Write a corpus report with plots (issue: shards)", description="Write a corpus report with plots (issue: shards)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SystemExit("gap report: not implemented yet")
