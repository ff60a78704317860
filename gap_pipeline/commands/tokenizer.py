"""`gap tokenizer`: Train a sentencepiece tokenizer (issue: shards)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("tokenizer", help="Train a sentencepiece tokenizer (issue: shards)", description="Train a sentencepiece tokenizer (issue: shards)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SystemExit("gap tokenizer: not implemented yet")
