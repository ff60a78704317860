"""The `gap` command line: one subcommand module per verb in gap_pipeline/commands/."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# (module, owner issue) — each module defines register(subparsers).
COMMAND_MODULES = (
    "sources", "scrape", "build", "extract", "dedup_eval", "langid",
    "tokenizer", "verify", "report", "export", "train",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gap",
        description=(
            "gap_pipeline: build a MEDITRON-style medical pretraining corpus. Scrapers fill a raw store; "
            "one Apache Beam pipeline turns it into tokenized Arrow shards; a bundled FSDP trainer reads them."
        ),
        epilog="Typical flow: gap sources list -> gap scrape --sources who,nice --out raw/ -> "
               "gap build --input raw/ --out out/corpus -> gap verify out/corpus -> gap train --data out/corpus",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"gap_pipeline.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.verbose:  # Beam logs every type hint and bundle at INFO
        logging.getLogger("apache_beam").setLevel(logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if extra and not getattr(args, "accepts_extra", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if getattr(args, "accepts_extra", False):
        args.extra = extra
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
