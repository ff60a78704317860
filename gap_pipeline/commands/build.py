"""`gap build`: run the Beam pipeline from a raw store to tokenized Arrow shards."""
from __future__ import annotations

import json
import os
import sys

from gap_pipeline.commands.args import positive_int

EPILOG = """\
Any option after `--` goes to Apache Beam unchanged, e.g.
  gap build --config corpus.yaml --out gs://bucket/corpus -- --runner DataflowRunner \\
      --project my-project --region europe-west1 --temp_location gs://bucket/tmp --setup_file ./setup.py
For s3:// paths Beam's S3 options go there too (--s3_region_name, --s3_endpoint_url, ...); gs:// and s3://
credentials come from the environment. The default runner is the local FnApiRunner (--workers N runs N
worker processes)."""


def register(sub) -> None:
    import argparse
    p = sub.add_parser("build", help="Build the corpus: raw store -> Arrow shards + manifest",
                       description="Build the corpus: raw store -> extract, clean, filter, dedup, split, "
                                   "tokenize, pack, mix -> Arrow shards + manifest.json",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="corpus YAML (default: the embedded sample corpus config)")
    p.add_argument("--input", help="raw store folder or URL (overrides the config's `input`)")
    p.add_argument("--out", default="out/corpus", help="output folder or URL (default: out/corpus)")
    p.add_argument("--workers", type=positive_int, default=None, help="local worker processes (FnApiRunner)")
    p.add_argument("--tokenizer", help="an existing tokenizer instead of training one: a sentencepiece .model or a "
                                       "Hugging Face tokenizer.json (BOS/EOS: config tokenizer.bos_token/eos_token)")
    p.add_argument("--force", action="store_true",
                   help="build into an --out that holds files a gap build did not write (they are left alone)")
    p.add_argument("--resume", dest="resume", action="store_true", default=True,
                   help="reuse the finished phases of an interrupted build with the same inputs and config "
                        "(the default)")
    p.add_argument("--no-resume", dest="resume", action="store_false",
                   help="start every phase afresh, discarding an interrupted build's work")
    p.add_argument("--specs-dir", help="the corpus's own source specs, beside the shipped ones (overrides the "
                                        "config's specs_dir); a spec there with a shipped name replaces it")
    p.set_defaults(func=run, accepts_extra=True)


def run(args) -> int:
    from gap_pipeline.build import BuildError, run_build, sample_config_path
    from gap_pipeline.config import ConfigError, load_config
    from gap_pipeline.manifest import AccountingError

    overrides = {}
    if args.input:
        overrides["input"] = os.path.abspath(args.input) if "://" not in args.input else args.input
    if args.specs_dir:
        overrides["specs_dir"] = os.path.abspath(args.specs_dir)
    if args.tokenizer:
        overrides.setdefault("tokenizer", {})["model"] = os.path.abspath(args.tokenizer)
    beam_args = [a for a in getattr(args, "extra", []) if a != "--"]
    from transforms.extract import pdf_guard
    try:
        cfg = load_config(args.config or sample_config_path(), overrides)
        manifest = run_build(cfg, args.out, beam_args=beam_args, workers=args.workers, force=args.force,
                             resume=args.resume)
    except (ConfigError, BuildError, AccountingError) as exc:
        print(f"gap build: error: {exc}", file=sys.stderr)
        return 2
    finally:
        # Stop the PDF extraction children now, not from an atexit hook racing the interpreter's
        # teardown (a clean exit: nothing the build started is left running; see schemas.raw.read_parquet_file).
        pdf_guard.shutdown()
    if manifest.get("dry_run"):
        job = manifest.get("job")
        print(json.dumps({"dry_run": True, "job_name": getattr(job, "name", None),
                          "steps": len(getattr(job, "steps", []) or [])}, indent=2))
        return 0
    acc = manifest["accounting"]
    print(json.dumps({"out": args.out, "accounting": acc,
                      "train_tokens": manifest["mixture"]["train_tokens"],
                      "shards": len(manifest["shards"])}, indent=2))
    return 0
