"""`gap verify OUT`: recompute every checksum and count of a built corpus; exit 1 naming each problem."""
from __future__ import annotations

import sys

from gap_pipeline.commands.args import corpus_command


def register(sub) -> None:
    p = corpus_command(
        sub, "verify", help="Check a built corpus against its manifest (checksums, counts, accounting)",
        description="Trust nothing in manifest.json: check its types, recompute the config hash from the stored "
                    "config and the sha256 of every listed file (shards, tokenizer, documents/, dropped/, "
                    "quarantine/), re-read every shard (schema, rows, tokens, ids in the vocabulary), recount the "
                    "accounting from the outcome files (per stage, reason and source) and the mixture; refuse paths "
                    "that leave the corpus and report files the manifest does not list (_build/ and report/ aside). "
                    "Exits 1 and prints one line per problem.",
        out_help="the corpus folder or URL (gs://, s3://...) written by `gap build` (holds manifest.json); options "
                 "after `--` go to Beam's filesystems, e.g. `-- --s3_region_name eu-west-1`")
    p.set_defaults(func=run, accepts_extra=True)


def run(args) -> int:
    from gap_pipeline.verify import CorpusFiles, load_manifest, verify_corpus

    options = [a for a in getattr(args, "extra", []) if a != "--"]
    problems = verify_corpus(args.out, options)
    if problems:
        for line in problems:
            print(f"gap verify: {line}", file=sys.stderr)
        print(f"gap verify: {args.out}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    manifest = load_manifest(CorpusFiles(args.out, options))
    shards = manifest["shards"]
    print(f"gap verify: {args.out}: OK ({len(shards)} shards, {sum(s['rows'] for s in shards)} rows, "
          f"{sum(s['tokens'] for s in shards)} tokens, checksums and accounting match)")
    return 0
