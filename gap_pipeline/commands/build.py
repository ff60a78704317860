"""`gap build`: run the Beam pipeline from a raw store to tokenized Arrow shards."""
from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser("build", help="Build the corpus: raw store -> Arrow shards + manifest",
                       description="Build the corpus: raw store -> Arrow shards + manifest")
    p.set_defaults(func=run)


def run(args) -> int:
    raise SystemExit("gap build: not implemented yet")
