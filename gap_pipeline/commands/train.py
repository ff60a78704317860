"""`gap train`: Train a model on the shards (issue: training)."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("train", help="Train a model on the shards (issue: training)", description="Train a model on the shards (issue: training)")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SystemExit("gap train: not implemented yet")
