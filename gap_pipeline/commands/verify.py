"""`gap verify`: Verify a built corpus (issue: shards)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("verify", help="Verify a built corpus (issue: shards)", description="Verify a built corpus (issue: shards)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SystemExit("gap verify: not implemented yet")
