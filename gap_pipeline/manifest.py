"""Assemble manifest.json after a build from the files the pipeline wrote, and check the accounting.

Accounting identities (checked here and again by `gap verify`):
- raw records:  in == excluded + superseded (older versions of a re-crawled page) + quarantined + extracted
- documents:    extracted == dropped (sum over every stage and reason) + kept
"""
from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Iterator

import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from gap_pipeline.outputs import read_bytes as _read
from gap_pipeline.verify import HASHED_FOLDERS
from schemas.checksum import sha256_stream
from schemas.events import Drop, drop_from_json
from schemas.jsonl import jsonl_lines, read_jsonl
from schemas.manifest import MANIFEST_VERSION, validate_manifest
from schemas.raw import read_parquet_file
from schemas import stages
from schemas.stages import STAGE_ORDER, stage_rank

if TYPE_CHECKING:
    from gap_pipeline.config import CorpusConfig



class AccountingError(RuntimeError):
    """The build's counts do not add up: something was lost or counted twice."""


def _glob(pattern: str) -> list[str]:
    result = FileSystems.match([pattern])[0]
    return sorted(m.path for m in result.metadata_list)


def load_stats(out_dir: str) -> dict[tuple[str, ...], tuple[int, int, int]]:
    """The build's statistics: one file per phase (`_build/stats-<phase>.json`), summed per key."""
    totals: dict[tuple[str, ...], tuple[int, int, int]] = {}
    for path in _glob(FileSystems.join(out_dir, "_build", "stats*.json")):
        for k, v in json.loads(_read(path)).items():
            key = tuple(k.split("\t"))
            old = totals.get(key, (0, 0, 0))
            totals[key] = tuple(a + b for a, b in zip(old, v))
    return totals


def output_files(out_dir: str) -> dict[str, dict[str, Any]]:
    """sha256 and size of every documents/, dropped/ and quarantine/ file, by corpus-relative name, so that
    `gap verify` can tell an edited drop reason or a replaced document text (shards carry their own)."""
    files: dict[str, dict[str, Any]] = {}
    for folder, suffix in sorted(HASHED_FOLDERS.items()):
        for meta in FileSystems.match([FileSystems.join(out_dir, folder, f"*{suffix}")])[0].metadata_list:
            with FileSystems.open(meta.path, compression_type="uncompressed") as fh:
                digest = sha256_stream(fh)
            files[f"{folder}/{meta.path.rstrip('/').rsplit('/', 1)[-1]}"] = {"sha256": digest,
                                                                              "bytes": meta.size_in_bytes}
    return dict(sorted(files.items()))


def enabled_stages(cfg: "CorpusConfig") -> list[str]:
    """The document stages a config runs (each appears in the manifest, even with no drops)."""
    skip = set()
    if not cfg.dedup.exact:
        skip.add(stages.DEDUP_EXACT)
    if not cfg.dedup.near:
        skip.add(stages.DEDUP_NEAR)
    if not cfg.decontamination.benchmarks:
        skip.add(stages.DECONTAMINATE)
    return [s for s in STAGE_ORDER if s not in skip]


def iter_quarantined(out_dir: str) -> Iterator[dict[str, Any]]:
    """The quarantined records (as dicts) of a build's output folder, one file at a time, split on "\n" only."""
    for path in _glob(FileSystems.join(out_dir, "quarantine", "*.jsonl")):
        yield from read_jsonl(_read(path), where=path)


def iter_drops(out_dir: str) -> Iterator[Drop]:
    """The drops of a build's output folder, one file (at most outputs.target_bytes) at a time: the
    manifest counts them without holding them, whatever the corpus size."""
    for path in _glob(FileSystems.join(out_dir, "dropped", "*.jsonl")):
        for number, line in jsonl_lines(_read(path)):
            try:
                drop = drop_from_json(line)
            except (ValueError, TypeError) as exc:  # a damaged drop file: name it, not a bare JSON error
                raise AccountingError(f"{path} line {number}: not a drop record ({exc})") from None
            yield drop


def assemble_manifest(out_dir: str, cfg: "CorpusConfig", *, config_hash: str, sources_info: dict[str, dict],
                      extra: dict[str, Any] | None = None) -> dict[str, Any]:
    from transforms.dedup.near import dedup_manifest_info
    from transforms.tokenizer import tokenizer_filename, tokenizer_info

    stats = load_stats(out_dir)

    # Raw records per source.
    sources: dict[str, dict[str, Any]] = defaultdict(lambda: {
        "raw_records": 0, "raw_excluded": 0, "raw_superseded": 0, "raw_quarantined": 0, "raw_extracted": 0,
        "documents_extracted": 0, "documents_kept": 0, "chars_extracted": 0,
        "dropped": defaultdict(lambda: defaultdict(int)), "tokens": {"train": 0, "validation": 0}})
    for key, (docs, chars, tokens) in stats.items():
        kind, rest = key[0], key[1:]
        if kind in ("raw_in", "raw_excluded", "raw_superseded", "raw_extracted"):
            field = {"raw_in": "raw_records", "raw_excluded": "raw_excluded", "raw_superseded": "raw_superseded",
                     "raw_extracted": "raw_extracted"}[kind]
            sources[rest[0]][field] += docs
        elif kind == "extracted":
            sources[rest[0]]["documents_extracted"] += docs
            sources[rest[0]]["chars_extracted"] += chars
            sources[rest[0]]["subset"] = rest[1]
        elif kind == "tokens":
            source, subset, split = rest
            sources[source]["tokens"][split] += tokens
            sources[source]["documents_kept"] += docs

    raw_quarantined = 0
    for q in iter_quarantined(out_dir):
        sources[q["source"]]["raw_quarantined"] += 1
        raw_quarantined += 1

    stages: dict[str, dict[str, Any]] = defaultdict(lambda: {"dropped": defaultdict(int), "dropped_chars": 0})
    dropped_total = 0
    for drop in iter_drops(out_dir):
        stages[drop.stage]["dropped"][drop.reason] += 1
        stages[drop.stage]["dropped_chars"] += drop.chars
        sources[drop.source]["dropped"][drop.stage][drop.reason] += 1
        dropped_total += 1

    kept_files = _glob(FileSystems.join(out_dir, "documents", "*.parquet"))
    kept_total = 0
    for path in kept_files:
        with FileSystems.open(path) as fh:
            kept_total += pq.ParquetFile(fh, pre_buffer=False).metadata.num_rows

    raw_in = sum(s["raw_records"] for s in sources.values())
    raw_excluded = sum(s["raw_excluded"] for s in sources.values())
    raw_superseded = sum(s["raw_superseded"] for s in sources.values())
    raw_extracted = sum(s["raw_extracted"] for s in sources.values())
    docs_extracted = sum(s["documents_extracted"] for s in sources.values())
    tokenized_docs = sum(s["documents_kept"] for s in sources.values())
    accounting = {
        "raw_records": {"in": raw_in, "excluded": raw_excluded, "superseded": raw_superseded,
                        "quarantined": raw_quarantined, "extracted": raw_extracted},
        "documents": {"extracted": docs_extracted, "dropped": dropped_total, "kept": kept_total,
                      "tokenized": tokenized_docs},
    }
    problems = []
    if raw_in != raw_excluded + raw_superseded + raw_quarantined + raw_extracted:
        problems.append(f"raw records: in {raw_in} != excluded {raw_excluded} + superseded {raw_superseded} "
                        f"+ quarantined {raw_quarantined} + extracted {raw_extracted}")
    if docs_extracted != dropped_total + kept_total:
        problems.append(f"documents: extracted {docs_extracted} != dropped {dropped_total} + kept {kept_total}")
    if tokenized_docs != kept_total:
        problems.append(f"documents: kept {kept_total} but {tokenized_docs} were tokenized")
    accounting["balanced"] = not problems
    if problems:
        raise AccountingError("; ".join(problems))

    # Per-stage in/out in pipeline order.
    ordered: dict[str, Any] = {}
    remaining = docs_extracted
    for stage in sorted(set(stages) | set(enabled_stages(cfg)), key=stage_rank):
        info = stages[stage]
        n = sum(info["dropped"].values())
        ordered[stage] = {"docs_in": remaining, "docs_out": remaining - n, "dropped": dict(sorted(info["dropped"].items())),
                          "dropped_chars": info["dropped_chars"]}
        remaining -= n

    # Tokens of dropped documents are estimated from their characters at the tokens-per-character rate
    # of the kept documents (dropped text is never tokenized); kept tokens are exact.
    kept_chars = sum(v[1] for k, v in stats.items() if k[0] == "kept_chars")
    kept_tokens = sum(s["tokens"]["train"] + s["tokens"]["validation"] for s in sources.values())
    rate = kept_tokens / kept_chars if kept_chars else 0.0
    for info in ordered.values():
        info["dropped_tokens_estimate"] = int(round(info["dropped_chars"] * rate))

    for name, s in sources.items():
        s["dropped"] = {stage: dict(sorted(r.items())) for stage, r in sorted(s["dropped"].items())}
        s.update({k: v for k, v in sources_info.get(name, {}).items() if k not in s or k == "subset"})

    shards = json.loads(_read(FileSystems.join(out_dir, "_build", "shards.json")))
    t = cfg.tokenizer
    name = "tokenizer.model"  # trained here, or given: a .model or a tokenizer.json (written under its kind's name)
    if t.model:
        with open(t.model, "rb") as fh:
            name = tokenizer_filename(fh.read(64))
    model = _read(FileSystems.join(out_dir, name))
    tok = tokenizer_info(model, t.bos_token, t.eos_token)
    tok.update({"file": name, "seq_len": cfg.packing.seq_len})

    manifest = {
        "schema_version": MANIFEST_VERSION,
        "config_hash": config_hash,
        "config": cfg.to_dict(),
        "tokenizer": tok,
        "accounting": accounting,
        "stages": ordered,
        "stage_order": list(ordered),
        "sources": {k: sources[k] for k in sorted(sources)},
        "mixture": json.loads(_read(FileSystems.join(out_dir, "_build", "mixture.json"))),
        "dedup": {**dedup_manifest_info(cfg.dedup.minhash), "clusters": duplicate_clusters(stats)},
        "languages": _language_counts(kept_files),
        "tokens_per_char": round(rate, 6),
        "pack": pack_waste(stats),
        "shards": shards,
        "files": output_files(out_dir),
    }
    if extra:
        manifest.update(extra)
    validate_manifest(manifest)
    return manifest


def duplicate_clusters(stats: dict[tuple[str, ...], tuple[int, int, int]]) -> dict[str, dict[str, int]]:
    """Duplicate clusters by stage and size (survivor + its duplicates), from the dedup phase's statistics:
    {"dedup_near": {"3": 1}}, sizes in increasing order."""
    clusters: dict[str, dict[int, int]] = defaultdict(dict)
    for key, (count, _, _) in stats.items():
        if key[0] == "dedup_cluster":
            clusters[key[1]][int(key[2])] = clusters[key[1]].get(int(key[2]), 0) + count
    return {stage: {str(size): n for size, n in sorted(sizes.items())} for stage, sizes in sorted(clusters.items())}


def pack_waste(stats: dict[tuple[str, ...], tuple[int, int, int]]) -> dict[str, dict[str, int]]:
    """Tokens left after the last full row of each packing group of each part, per subset (total and per split)."""
    out: dict[str, dict[str, int]] = {}
    for key, (_, _, tokens) in sorted(stats.items()):
        if key[0] != "pack_waste":
            continue
        subset, split = key[1], key[2]
        entry = out.setdefault(subset, {"tail_waste_tokens": 0})
        entry["tail_waste_tokens"] += tokens
        entry[f"tail_waste_tokens_{split}"] = entry.get(f"tail_waste_tokens_{split}", 0) + tokens
    return out


def _language_counts(files: list[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for path in files:
        with FileSystems.open(path) as fh:
            for lang in read_parquet_file(fh, columns=["lang"]).column("lang").to_pylist():
                counts[lang or "und"] += 1
    return dict(sorted(counts.items()))
