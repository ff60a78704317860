"""`gap report OUT`: write OUT/report/report.md with PNG plots and a data card."""
from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser("report", help="Write OUT/report/report.md with plots and a data card",
                       description="Write OUT/report/report.md with PNG plots beside it (tokens per source and "
                                   "subset, document lengths per subset, drops per stage and reason, duplicate "
                                   "cluster sizes, languages) and a data card (sources, publishers, licences, "
                                   "counts, the redistributable part).")
    p.add_argument("out", help="the corpus folder written by `gap build`")
    p.add_argument("--no-plots", action="store_true", help="write the markdown only")
    p.set_defaults(func=run)


def run(args) -> int:
    from gap_pipeline.report import write_report

    try:
        path = write_report(args.out, plots=not args.no_plots)
    except FileNotFoundError as exc:
        print(f"gap report: {exc}", file=sys.stderr)
        return 1
    print(f"gap report: wrote {path}")
    return 0
