"""`gap langid`: Identify the language of text (issue: dedup/language)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("langid", help="Identify the language of text (issue: dedup/language)", description="Identify the language of text (issue: dedup/language)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SystemExit("gap langid: not implemented yet")
