"""`gap report OUT`: write OUT/report/report.md with PNG plots and a data card.

Write OUT/report/report.md with PNG plots beside it (tokens per source and subset, document lengths per
subset, drops per stage and reason, duplicate cluster sizes, languages) and a data card (sources,
publishers, licences, counts, the redistributable part); also OUT/README.md, the data card as a Hugging
Face dataset card (YAML front matter) whose configs point datasets.load_dataset at the shards.
"""
from __future__ import annotations

import sys

from gap_pipeline.commands.args import corpus_command


def register(sub) -> None:
    p = corpus_command(sub, "report", help="Write OUT/report/report.md with plots and a data card, and OUT/README.md (dataset card)",
                       description=__doc__.split("\n\n", 1)[1])
    p.add_argument("--no-plots", action="store_true", help="write the markdown only")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from gap_pipeline.report import CARD_MARK, ReportError, write_report
    from schemas.manifest import ManifestError

    try:
        path = write_report(args.out, plots=not args.no_plots)
    except (FileNotFoundError, ManifestError, ReportError) as exc:
        print(f"gap report: {exc}", file=sys.stderr)
        return 1
    except FileExistsError as exc:  # OUT/report is a file
        print(f"gap report: cannot write the report: {exc.filename} is a file, not a folder", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. OUT is read-only
        print(f"gap report: cannot write the report in {args.out}: {exc.strerror or exc}"
              f"{f' ({exc.filename})' if exc.filename else ''}", file=sys.stderr)
        return 1
    print(f"gap report: wrote {path}")
    card = Path(args.out) / "README.md"
    if card.is_file() and CARD_MARK in card.read_text(encoding="utf-8", errors="replace"):
        print(f"gap report: wrote {card} (dataset card: datasets.load_dataset({str(args.out)!r}) reads the shards)")
    else:
        print(f"gap report: {card} was not written by gap; left as is (no dataset card written)", file=sys.stderr)
    return 0
