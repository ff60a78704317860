"""`gap dedup-eval`: Run exact+near dedup over JSONL documents and score clusters (issue: dedup)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("dedup-eval", help="Run exact+near dedup over JSONL documents and score clusters (issue: dedup)", description="Run exact+near dedup over JSONL documents and score clusters (issue: dedup)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SystemExit("gap dedup-eval: not implemented yet")
