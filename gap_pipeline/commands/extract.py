"""`gap extract`: Print the documents of raw files as JSON lines (issue: papers)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("extract", help="Print the documents of raw files as JSON lines (issue: papers)", description="Print the documents of raw files as JSON lines (issue: papers)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SystemExit("gap extract: not implemented yet")
