"""`gap export OUT --redistributable`: write the documents whose licences allow it as JSONL and Parquet."""
from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser("export", help="Export the kept documents whose licences allow redistribution",
                       description="Write OUT's kept documents as documents.jsonl + documents.parquet. With "
                                   "--redistributable (the published set) only open licences are written: public "
                                   "domain, CC0, CC-BY(-SA), open government, MIT/BSD/Apache; NC/ND/unknown are "
                                   "held back and counted.")
    p.add_argument("out", help="the corpus folder written by `gap build`")
    p.add_argument("--redistributable", action="store_true",
                   help="only documents whose source and licence allow redistribution")
    p.add_argument("--dest", help="folder to write (default: OUT/export/redistributable or OUT/export/all)")
    p.set_defaults(func=run)


def run(args) -> int:
    from gap_pipeline.export import export_documents

    try:
        summary = export_documents(args.out, args.dest, redistributable_only=args.redistributable)
    except FileNotFoundError as exc:
        print(f"gap export: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0
