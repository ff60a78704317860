"""A miniature build with this area's transforms only: documents -> split -> tokenize -> pack -> mix ->
shards, plus a manifest in the shape gap_pipeline/manifest.py writes. Used to test the stages under Beam
and to give verify/report/export a real output folder."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.options.pipeline_options import PipelineOptions

from schemas.document import DOCUMENT_SCHEMA, Document
from schemas.events import Drop
from transforms.mix import Mix
from transforms.pack import Pack
from transforms.shards import WriteShards
from transforms.split import AssignSplit
from transforms.tokenizer import TokenizeDocuments, TrainTokenizer, tokenizer_info

SETTINGS = {"vocab_size": 600, "train_max_chars": 200_000}
FRACTIONS = {"guidelines": 0.2, "papers": 0.1, "abstracts": 0.1, "replay": 0.0}
SHARES = {"guidelines": 0.25, "papers": 0.45, "abstracts": 0.2, "replay": 0.1}


def run_stages(docs: list[Document], out_dir: str | Path, *, seq_len: int = 64, buckets: int = 4,
               seed: int = 1234, target_bytes: int = 16384, workers: int = 1) -> dict[str, Any]:
    """Run the pipeline tail under the DirectRunner; returns {model, shards, waste, mixture}."""
    out_dir = str(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    results: dict[str, Any] = {}
    opts = {"direct_num_workers": workers}
    if workers > 1:
        opts["direct_running_mode"] = "multi_threading"
    collected = os.path.join(out_dir, "_collected.jsonl")

    with beam.Pipeline(options=PipelineOptions.from_dictionary(opts)) as p:
        pdocs = p | beam.Create(docs, reshuffle=False)
        model = pdocs | TrainTokenizer(SETTINGS, seed)
        split_docs = pdocs | AssignSplit(FRACTIONS, seed)
        encoded = split_docs | TokenizeDocuments(model)
        packed = encoded | Pack(seq_len, buckets, seed)
        vocab = model | beam.Map(lambda m: tokenizer_info(m)["vocab_size"])
        train = packed["rows"] | "Train" >> beam.Filter(lambda r: r["split"] == "train")
        valid = packed["rows"] | "Valid" >> beam.Filter(lambda r: r["split"] == "validation")
        mix = Mix("shares", SHARES, {}, seed)  # as the pipeline calls it: row width measured
        mixed = train | mix
        vocab_side = beam.pvalue.AsSingleton(vocab)
        shards_train = mixed | "WriteTrain" >> WriteShards(os.path.join(out_dir, "train"), "train", seq_len,
                                                           vocab_side, target_bytes, seed)
        shards_valid = valid | "WriteValid" >> WriteShards(os.path.join(out_dir, "validation"), "validation",
                                                           seq_len, vocab_side, target_bytes, seed)
        tagged = [
            model | "TagModel" >> beam.Map(lambda m: ("model", m.hex())),
            vocab | "TagVocab" >> beam.Map(lambda v: ("vocab", v)),
            (shards_train, shards_valid) | "AllShards" >> beam.Flatten() | beam.Map(lambda s: ("shard", s)),
            packed["waste"] | beam.Map(lambda w: ("waste", w)),
            mix.report | beam.Map(lambda r: ("mixture", r)),
        ]
        (tagged | "All" >> beam.Flatten() | beam.Map(json.dumps)
         | beam.io.WriteToText(collected, shard_name_template=""))
    for line in Path(collected).read_text().splitlines():
        kind, value = json.loads(line)
        if kind in ("shard", "waste"):
            results.setdefault(kind + "s", []).append(value)
        else:
            results[kind] = value
    os.remove(collected)
    results["model"] = bytes.fromhex(results["model"])
    results["shards"].sort(key=lambda s: s["path"])
    return results


def build_fake_out(docs: list[Document], out_dir: str | Path, drops: list[Drop] = (), **kw) -> dict[str, Any]:
    """A complete output folder: shards, tokenizer, documents, drops and manifest."""
    out = Path(out_dir)
    res = run_stages(docs, out, **kw)
    seq_len = kw.get("seq_len", 64)
    (out / "tokenizer.model").write_bytes(res["model"])
    (out / "documents").mkdir(exist_ok=True)
    table = pa.Table.from_pylist([d.to_row() for d in sorted(docs, key=lambda d: d.id)], schema=DOCUMENT_SCHEMA)
    pq.write_table(table, out / "documents" / "documents-00000.parquet")
    (out / "dropped").mkdir(exist_ok=True)
    (out / "dropped" / "dropped-00000.jsonl").write_text("".join(d.to_json() + "\n" for d in drops))
    (out / "quarantine").mkdir(exist_ok=True)
    (out / "quarantine" / "quarantine-00000.jsonl").write_text("")
    info = tokenizer_info(res["model"])
    kept_by_source: dict[str, int] = {}
    for d in docs:
        kept_by_source[d.source] = kept_by_source.get(d.source, 0) + 1
    dropped_by_source: dict[str, int] = {}
    stages: dict[str, dict[str, int]] = {}
    for d in drops:
        dropped_by_source[d.source] = dropped_by_source.get(d.source, 0) + 1
        stages.setdefault(d.stage, {})
        stages[d.stage][d.reason] = stages[d.stage].get(d.reason, 0) + 1
    sources = {s: {"subset": next(d.subset for d in docs if d.source == s), "publisher": s.upper(),
                   "license": next(d.license for d in docs if d.source == s),
                   "redistributable": s in ("pmc", "pubmed"),
                   "records": kept_by_source[s] + dropped_by_source.get(s, 0),
                   "kept": kept_by_source[s], "dropped": dropped_by_source.get(s, 0), "quarantined": 0}
               for s in sorted(kept_by_source)}
    waste: dict[str, int] = {}
    for subset, _split, tokens in res["wastes"]:
        waste[subset] = waste.get(subset, 0) + tokens
    manifest = {
        "schema_version": 1,
        "config_hash": "0" * 64,
        "tokenizer": {"file": "tokenizer.model", "seq_len": seq_len, **info},
        "accounting": {"records_in": len(docs) + len(drops), "kept": len(docs), "dropped": len(drops),
                       "quarantined": 0},
        "stages": stages,
        "sources": sources,
        "mixture": res["mixture"],
        "pack": {subset: {"tail_waste_tokens": tokens} for subset, tokens in sorted(waste.items())},
        "shards": res["shards"],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return {"manifest": manifest, **res}
