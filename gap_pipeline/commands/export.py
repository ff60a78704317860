"""`gap export OUT`: the kept documents whose licences allow it as JSONL and Parquet (--redistributable), or
the token streams as Megatron indexed datasets (--format megatron).

Write OUT's kept documents as documents.jsonl + documents.parquet. With --redistributable (the published
set) only open licences are written: public domain, CC0, CC-BY(-SA), open government, MIT/BSD/Apache;
NC/ND/unknown are held back and counted. With --format megatron: the train and validation token streams
as Megatron-LM/NeMo indexed datasets (train.bin/.idx, validation.bin/.idx).
"""
from __future__ import annotations

import json
import sys

from gap_pipeline.commands.args import corpus_command


def register(sub) -> None:
    p = corpus_command(sub, "export", help="Export the redistributable documents, or the token streams for Megatron",
                       description=__doc__.split("\n\n", 1)[1])
    p.add_argument("--format", choices=("documents", "megatron"), default="documents",
                   help="documents (default): JSONL + Parquet of the kept documents; megatron: .bin + .idx")
    p.add_argument("--redistributable", action="store_true",
                   help="only documents whose source and licence allow redistribution (--format documents)")
    p.add_argument("--dest", help="folder to write (default: OUT/export/redistributable, OUT/export/all or "
                                  "OUT/export/megatron); a folder holding files of those names that gap export did not write is refused")
    p.set_defaults(func=run)


def run(args) -> int:
    from gap_pipeline.export import ExportError, export_documents
    from gap_pipeline.megatron import MegatronExportError, export_megatron
    from schemas.manifest import ManifestError

    try:
        if args.format == "megatron":
            if args.redistributable:
                print("gap export: --redistributable applies to --format documents only", file=sys.stderr)
                return 2
            summary = export_megatron(args.out, args.dest)
        else:
            summary = export_documents(args.out, args.dest, redistributable_only=args.redistributable)
    except (FileNotFoundError, ManifestError, MegatronExportError, ExportError) as exc:
        print(f"gap export: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # e.g. --dest under a file, or on a read-only disk
        print(f"gap export: cannot write the export: {exc.strerror or exc}"
              f"{f' ({exc.filename})' if exc.filename else ''}", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2, sort_keys=True))
    return 0
