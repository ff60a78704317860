"""`gap verify OUT`: recompute every checksum and count of a built corpus and check the accounting.

Each problem is one line naming the file or manifest key and what differs, e.g.
  checksum mismatch: train/train-00001-of-00003.arrow has sha256 1f2e…, manifest says 9a8b…
  missing shard: validation/validation-00000-of-00001.arrow is listed in manifest.json but not on disk
  row count: train/train-00000-of-00003.arrow has 120 rows, manifest says 121
An empty list means the corpus is exactly what its manifest says.
"""
from __future__ import annotations

import glob
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas.checksum import sha256_file, sha256_stream
from schemas.manifest import ManifestError, validate_manifest
from schemas.shard import token_dtype, validate_shard_schema

SHARE_TOLERANCE = 0.001  # 0.1 percentage point


class CorpusFiles:
    """The files of a built corpus by their manifest-relative names: a local folder (shards memory-mapped)
    or a remote one (gs://, s3://..., read through Beam's FileSystems, as `gap build` wrote it)."""

    def __init__(self, root: str | Path, filesystem_options: list[str] | None = None):
        self.root = str(root)
        self.remote = "://" in self.root
        if self.remote:
            from apache_beam.io.filesystems import FileSystems
            from apache_beam.options.pipeline_options import PipelineOptions

            # Beam's S3 filesystem has no client until it is given options (region, endpoint, keys).
            FileSystems.set_options(PipelineOptions(filesystem_options or []))
            self._fs = FileSystems

    def path(self, rel: str) -> str:
        return self._fs.join(self.root, rel) if self.remote else os.path.join(self.root, rel)

    def is_file(self, rel: str) -> bool:
        return self._fs.exists(self.path(rel)) if self.remote else os.path.isfile(self.path(rel))

    def read_bytes(self, rel: str) -> bytes:
        if self.remote:
            from gap_pipeline.outputs import read_bytes
            return read_bytes(self.path(rel))
        return Path(self.path(rel)).read_bytes()

    def sha256(self, rel: str) -> str:
        if self.remote:
            with self._fs.open(self.path(rel)) as fh:
                return sha256_stream(fh)
        return sha256_file(self.path(rel))

    def arrow_stream(self, rel: str) -> pa.Table:
        if self.remote:
            return pa.ipc.open_stream(pa.BufferReader(self.read_bytes(rel))).read_all()
        with pa.memory_map(self.path(rel), "r") as source:
            return pa.ipc.open_stream(source).read_all()

    def parquet_rows(self, rel: str) -> int:
        if self.remote:   # seekable: only the footer is fetched
            with self._fs.open(self.path(rel)) as fh:
                return pq.ParquetFile(fh).metadata.num_rows
        return pq.ParquetFile(self.path(rel)).metadata.num_rows

    def listing(self, pattern: str) -> list[str]:
        """Relative names of the files matching a glob relative to the root (`*` stays inside a folder)."""
        if self.remote:
            prefix = self.root.rstrip("/") + "/"
            matched = self._fs.match([prefix + pattern])[0].metadata_list
            return sorted(m.path[len(prefix):] for m in matched if m.path.startswith(prefix))
        return sorted(os.path.relpath(p, self.root).replace(os.sep, "/")
                      for p in glob.glob(os.path.join(self.root, pattern)) if os.path.isfile(p))


def load_manifest(out: str | Path | CorpusFiles) -> dict[str, Any]:
    files = out if isinstance(out, CorpusFiles) else CorpusFiles(out)
    if not files.is_file("manifest.json"):
        raise ManifestError(f"no manifest: {files.path('manifest.json')} does not exist "
                            f"(is {files.root} a built corpus?)")
    try:
        manifest = json.loads(files.read_bytes("manifest.json").decode("utf-8"))
    except ValueError as exc:
        raise ManifestError(f"manifest.json is not valid JSON: {exc}") from exc
    validate_manifest(manifest)
    return manifest


def verify_corpus(out_dir: str | Path, filesystem_options: list[str] | None = None) -> list[str]:
    """All problems found in the corpus at `out_dir` (empty when it is consistent). `filesystem_options`
    are Beam options for a remote corpus (e.g. `--s3_region_name`), as given to `gap build`."""
    out = CorpusFiles(out_dir, filesystem_options)
    try:
        manifest = load_manifest(out)
    except ManifestError as exc:
        return [str(exc)]
    except Exception as exc:  # noqa: BLE001 - remote: no filesystem for the scheme, credentials, network
        if not out.remote:
            raise
        return [f"cannot read {out.root}: {exc}"]
    problems: list[str] = []
    problems += _check_tokenizer(out, manifest)
    problems += _check_shards(out, manifest)
    problems += _check_accounting(out, manifest)
    problems += _check_mixture(manifest)
    return problems


def _check_tokenizer(out: CorpusFiles, manifest: dict[str, Any]) -> list[str]:
    tok = manifest["tokenizer"]
    name = tok.get("file", "tokenizer.model")
    if not out.is_file(name):
        return [f"missing tokenizer: {name} is named in manifest.json but not on disk"]
    problems = []
    digest = out.sha256(name)
    if digest != tok["sha256"]:
        problems.append(f"checksum mismatch: {name} has sha256 {digest}, manifest says {tok['sha256']}")
        return problems
    from transforms.tokenizer import HUGGINGFACE, load_encoder
    kind = tok.get("kind", "sentencepiece")
    try:
        enc = load_encoder(out.read_bytes(name), kind, bos_token=tok.get("bos_token"), eos_token=tok.get("eos_token"))
    except Exception as exc:  # noqa: BLE001 - any load failure is the finding
        what = "a Hugging Face tokenizer.json" if kind == HUGGINGFACE else "a sentencepiece model"
        return [f"tokenizer: {name} does not load as {what}: {exc}"]
    for key, actual in (("vocab_size", enc.vocab_size), ("bos_id", enc.bos_id), ("eos_id", enc.eos_id)):
        if tok[key] != actual:
            problems.append(f"tokenizer: manifest {key} is {tok[key]}, {name} has {actual}")
    return problems


def _check_shards(out: CorpusFiles, manifest: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    seq_len = manifest["tokenizer"]["seq_len"]
    vocab_size = manifest["tokenizer"]["vocab_size"]
    listed = set()
    for shard in manifest["shards"]:
        rel = shard["path"]
        listed.add(rel)
        if not out.is_file(rel):
            problems.append(f"missing shard: {rel} is listed in manifest.json but not on disk")
            continue
        digest = out.sha256(rel)
        if digest != shard["sha256"]:
            problems.append(f"checksum mismatch: {rel} has sha256 {digest}, manifest says {shard['sha256']}")
        try:
            table = out.arrow_stream(rel)
        except (pa.ArrowInvalid, OSError) as exc:
            problems.append(f"unreadable shard: {rel} is not an Arrow IPC stream: {exc}")
            continue
        try:
            validate_shard_schema(table.schema, seq_len)
        except ValueError as exc:
            problems.append(f"shard schema: {rel}: {exc}")
            continue
        ids_type = table.schema.field("input_ids").type.value_type
        if ids_type != token_dtype(vocab_size):
            problems.append(f"shard schema: {rel} stores {ids_type} ids, a vocabulary of {vocab_size} needs "
                            f"{token_dtype(vocab_size)}")
        if table.num_rows != shard["rows"]:
            problems.append(f"row count: {rel} has {table.num_rows} rows, manifest says {shard['rows']}")
        tokens = table.num_rows * (seq_len + 1)
        if tokens != shard["tokens"]:
            problems.append(f"token count: {rel} holds {tokens} tokens, manifest says {shard['tokens']}")
        if not rel.startswith(f"{shard['split']}/"):
            problems.append(f"shard split: {rel} is listed as split {shard['split']!r}")
        if table.num_rows:
            flat = table.column("input_ids").combine_chunks().flatten()
            top = pc.max(flat).as_py()
            if top >= vocab_size:
                problems.append(f"token ids: {rel} holds id {top}, outside the vocabulary of {vocab_size}")
        if "subset_rows" in shard:
            counts = pc.value_counts(table.column("subset").combine_chunks()).to_pylist()
            actual = {c["values"]: c["counts"] for c in counts}
            if actual != shard["subset_rows"]:
                problems.append(f"row count: {rel} has rows per subset {dict(sorted(actual.items()))}, "
                                f"manifest says {shard['subset_rows']}")
        if "source_rows" in shard:
            if "source" not in table.schema.names:
                problems.append(f"shard schema: {rel} has no source column, manifest counts its rows per source")
            else:
                counts = pc.value_counts(table.column("source").combine_chunks()).to_pylist()
                actual = {c["values"]: c["counts"] for c in counts}
                if actual != shard["source_rows"]:
                    problems.append(f"row count: {rel} has rows per source {dict(sorted(actual.items()))}, "
                                    f"manifest says {shard['source_rows']}")
    for rel in out.listing("*/*.arrow"):
        if rel not in listed:
            problems.append(f"unlisted shard: {rel} is on disk but not in manifest.json")
    return problems


def _count_lines(out: CorpusFiles, folder: str) -> int:
    return sum(1 for rel in out.listing(f"{folder}/*.jsonl")
               for line in out.read_bytes(rel).decode("utf-8").splitlines() if line.strip())


def _check_accounting(out: CorpusFiles, manifest: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    acc = manifest["accounting"]
    raw, docs = acc.get("raw_records", {}), acc.get("documents", {})
    if raw:
        superseded = raw.get("superseded", 0)  # older versions of re-crawled pages
        if raw["in"] != raw["excluded"] + superseded + raw["quarantined"] + raw["extracted"]:
            problems.append(f"accounting: raw records in {raw['in']} != excluded {raw['excluded']} + superseded "
                            f"{superseded} + quarantined {raw['quarantined']} + extracted {raw['extracted']}")
        quarantined = _count_lines(out, "quarantine")
        if quarantined != raw["quarantined"]:
            problems.append(f"accounting: quarantine/*.jsonl holds {quarantined} records, manifest says "
                            f"{raw['quarantined']}")
    if docs:
        if docs["extracted"] != docs["dropped"] + docs["kept"]:
            problems.append(f"accounting: documents extracted {docs['extracted']} != dropped {docs['dropped']} + "
                            f"kept {docs['kept']}")
        if "tokenized" in docs and docs["tokenized"] != docs["kept"]:
            problems.append(f"accounting: {docs['kept']} documents kept but {docs['tokenized']} tokenized")
        dropped = _count_lines(out, "dropped")
        if dropped != docs["dropped"]:
            problems.append(f"accounting: dropped/*.jsonl holds {dropped} drops, manifest says {docs['dropped']}")
        kept = sum(out.parquet_rows(rel) for rel in out.listing("documents/*.parquet"))
        if kept != docs["kept"]:
            problems.append(f"accounting: documents/*.parquet holds {kept} documents, manifest says {docs['kept']}")
        stage_drops = sum(sum(s.get("dropped", {}).values()) for s in manifest["stages"].values())
        if manifest["stages"] and stage_drops != docs["dropped"]:
            problems.append(f"accounting: stages drop {stage_drops} documents in all, manifest says "
                            f"{docs['dropped']}")
        per_source = [s.get("documents_kept") for s in manifest["sources"].values()]
        if per_source and None not in per_source and sum(per_source) != docs["kept"]:
            problems.append(f"accounting: sources keep {sum(per_source)} documents in all, manifest says "
                            f"{docs['kept']}")
    # Each stage's output is the next one's input (JSON key order is not stage order: sort by flow).
    stages = sorted(manifest["stages"].items(),
                    key=lambda kv: (-kv[1].get("docs_in", 0), -kv[1].get("docs_out", 0), kv[0]))
    for (name_a, a), (name_b, b) in zip(stages, stages[1:]):
        if "docs_out" in a and "docs_in" in b and a["docs_out"] != b["docs_in"]:
            problems.append(f"accounting: stage {name_a} outputs {a['docs_out']} documents but {name_b} "
                            f"takes {b['docs_in']}")
    for name, s in stages:
        if {"docs_in", "docs_out", "dropped"} <= set(s) and s["docs_in"] - sum(s["dropped"].values()) != s["docs_out"]:
            problems.append(f"accounting: stage {name}: {s['docs_in']} in - {sum(s['dropped'].values())} dropped "
                            f"!= {s['docs_out']} out")
    if stages and docs and "docs_out" in stages[-1][1] and stages[-1][1]["docs_out"] != docs["kept"]:
        problems.append(f"accounting: the last stage ({stages[-1][0]}) outputs {stages[-1][1]['docs_out']} "
                        f"documents, manifest keeps {docs['kept']}")
    if acc.get("balanced") is False:
        problems.append("accounting: manifest marks the accounting as not balanced")
    return problems


def _check_mixture(manifest: dict[str, Any]) -> list[str]:
    mixture = manifest["mixture"]
    train = [s for s in manifest["shards"] if s["split"] == "train"]
    train_tokens = sum(s["tokens"] for s in train)
    problems: list[str] = []
    if "train_tokens" in mixture and mixture["train_tokens"] != train_tokens:
        problems.append(f"mixture: train shards hold {train_tokens} tokens, mixture says {mixture['train_tokens']}")
    tokens_per_row = manifest["tokenizer"]["seq_len"] + 1
    problems += _check_shares(mixture, "subset", mixture.get("subsets", {}), train, "subset_rows",
                              tokens_per_row, train_tokens)
    if mixture.get("by") == "source" or "sources" in mixture:
        if "sources" not in mixture:
            problems.append("mixture: mixture.by is source but the mixture lists no sources")
        elif any("source_rows" not in s for s in train):
            problems.append("mixture: the mixture is by source but the train shards do not count rows per source")
        else:
            problems += _check_shares(mixture, "source", mixture["sources"], train, "source_rows",
                                      tokens_per_row, train_tokens)
    return problems


def _check_shares(mixture: dict[str, Any], kind: str, entries: dict[str, Any], train: list[dict[str, Any]],
                  rows_field: str, tokens_per_row: int, train_tokens: int) -> list[str]:
    """Each mixture entry (a subset or a source) against the train shards' rows of it: tokens, realised
    share, and (mode shares) the target share within 0.1 percentage point."""
    problems: list[str] = []
    counted: dict[str, int] = {}
    for shard in train:
        for name, rows in shard.get(rows_field, {}).items():
            counted[name] = counted.get(name, 0) + rows * tokens_per_row
    for name, entry in sorted(entries.items()):
        tokens = entry.get("train_tokens", entry.get("tokens"))
        if counted and tokens is not None and counted.get(name, 0) != tokens:
            problems.append(f"mixture: train shards hold {counted.get(name, 0)} tokens of {kind} {name}, mixture "
                            f"says {tokens}")
        if train_tokens and tokens is not None:
            share = tokens / train_tokens
            if abs(share - entry.get("realised_share", share)) > 1e-6:
                problems.append(f"mixture: {kind} {name} realised_share is {entry['realised_share']:.6f}, shards "
                                f"give {share:.6f}")
            if mixture.get("mode") == "shares" and "target_share" in entry \
                    and abs(share - entry["target_share"]) > SHARE_TOLERANCE:
                problems.append(f"mixture: {kind} {name} has {share:.4%} of train tokens, target "
                                f"{entry['target_share']:.4%} (more than 0.1 percentage point off)")
    for name in sorted(set(counted) - set(entries)):
        problems.append(f"mixture: train shards hold {counted[name]} tokens of {kind} {name}, which the mixture "
                        f"does not list")
    return problems
