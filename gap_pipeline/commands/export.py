"""`gap export`: Export the redistributable documents (issue: shards)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("export", help="Export the redistributable documents (issue: shards)", description="Export the redistributable documents (issue: shards)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SystemExit("gap export: not implemented yet")
