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
from transforms.mix import Mix, NumberRows
from transforms.pack import Pack
from transforms.shards import WriteShards
from transforms.split import AssignSplit
from transforms.tokenizer import TokenizeDocuments, TrainTokenizer, tokenizer_info

SETTINGS = {"vocab_size": 600, "train_max_chars": 200_000}
FRACTIONS = {"guidelines": 0.2, "papers": 0.1, "abstracts": 0.1, "replay": 0.0}
SHARES = {"guidelines": 0.25, "papers": 0.45, "abstracts": 0.2, "replay": 0.1}


def run_stages(docs: list[Document], out_dir: str | Path, *, seq_len: int = 64, bucket_tokens: int = 1024,
               seed: int = 1234, target_bytes: int = 16384, workers: int = 1, by: str = "subset",
               shares: dict[str, float] | None = None) -> dict[str, Any]:
    """Run the pipeline tail under the DirectRunner; returns {model, shards, waste, mixture}.

    by="source": packing keeps rows to one source and `shares` (default SHARES) name sources."""
    out_dir = str(out_dir)
    os.makedirs(out_dir, exist_ok=True)
    results: dict[str, Any] = {}
    opts = {"direct_num_workers": workers}
    if workers > 1:
        opts["direct_running_mode"] = "multi_processing"  # as gap build; multi_threading lost elements (bench_tail)
    collected = os.path.join(out_dir, "_collected.jsonl")

    with beam.Pipeline(options=PipelineOptions.from_dictionary(opts)) as p:
        pdocs = p | beam.Create(docs, reshuffle=False)
        model = pdocs | TrainTokenizer(SETTINGS, seed)
        split_docs = pdocs | AssignSplit(FRACTIONS, seed)
        encoded = split_docs | TokenizeDocuments(model)
        by_source = by == "source"
        if by_source:  # the pipeline's tokenizer step carries the source; add it here from the documents
            source_of = {d.id: d.source for d in docs}
            encoded = encoded | "AddSource" >> beam.Map(lambda t: (*t, source_of[t[2]]))
        packed = encoded | Pack(seq_len, bucket_tokens, seed, by_source=by_source)
        vocab = model | beam.Map(lambda m: tokenizer_info(m)["vocab_size"])
        train = packed["rows"] | "Train" >> beam.Filter(lambda r: r["split"] == "train")
        valid = (packed["rows"] | "Valid" >> beam.Filter(lambda r: r["split"] == "validation")
                 | "NumberValid" >> NumberRows(by))
        mix = Mix("shares", shares or SHARES, {}, seed, by=by)  # as the pipeline calls it: row width measured
        mixed = train | mix
        vocab_side = beam.pvalue.AsSingleton(vocab)
        shards_train = mixed | "WriteTrain" >> WriteShards(os.path.join(out_dir, "train"), "train", seq_len,
                                                           vocab_side, target_bytes, seed, with_source=by_source)
        shards_valid = valid | "WriteValid" >> WriteShards(os.path.join(out_dir, "validation"), "validation",
                                                           seq_len, vocab_side, target_bytes, seed,
                                                           with_source=by_source)
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


LICENCES = {"who": ("CC-BY-NC-SA-3.0-IGO", False), "cdc": ("public-domain", True), "pmc": ("CC-BY-4.0", True),
            "pubmed": ("public-domain", True), "replay": ("CC-BY-SA-3.0", True)}


def build_fake_out(docs: list[Document], out_dir: str | Path, drops: list[Drop] = (), **kw) -> dict[str, Any]:
    """A complete output folder in the layout and manifest format of gap_pipeline/build.py: shards,
    tokenizer.model, documents/*.parquet, dropped/*.jsonl, quarantine/*.jsonl and manifest.json."""
    out = Path(out_dir)
    res = run_stages(docs, out, **kw)
    seq_len = kw.get("seq_len", 64)
    (out / "tokenizer.model").write_bytes(res["model"])
    (out / "documents").mkdir(exist_ok=True)
    table = pa.Table.from_pylist([d.to_row() for d in sorted(docs, key=lambda d: d.id)], schema=DOCUMENT_SCHEMA)
    pq.write_table(table, out / "documents" / "documents-00000-of-00001.parquet")
    (out / "dropped").mkdir(exist_ok=True)
    (out / "dropped" / "dropped-00000-of-00001.jsonl").write_text("".join(d.to_json() + "\n" for d in drops))
    (out / "quarantine").mkdir(exist_ok=True)
    (out / "quarantine" / "quarantine-00000-of-00001.jsonl").write_text("")

    sp_info = tokenizer_info(res["model"])
    from transforms.tokenizer import encode_document, load_tokenizer
    sp = load_tokenizer(res["model"])
    from transforms.split import assign_split
    sources: dict[str, dict[str, Any]] = {}
    for d in list(docs) + list(drops):
        licence, redistributable = LICENCES[d.source]
        sources.setdefault(d.source, {
            "subset": d.subset, "priority": 0, "license": licence, "redistributable": redistributable,
            "raw_records": 0, "raw_excluded": 0, "raw_quarantined": 0, "raw_extracted": 0,
            "documents_extracted": 0, "documents_kept": 0, "chars_extracted": 0, "dropped": {},
            "tokens": {"train": 0, "validation": 0}})
    for d in docs:
        s = sources[d.source]
        s["raw_records"] += 1
        s["raw_extracted"] += 1
        s["documents_extracted"] += 1
        s["documents_kept"] += 1
        s["chars_extracted"] += len(d.text)
        split = assign_split(d.id, d.subset, FRACTIONS, kw.get("seed", 1234))
        s["tokens"][split] += len(encode_document(sp, d.text))
    stages: dict[str, dict[str, Any]] = {}
    for d in drops:
        s = sources[d.source]
        s["raw_records"] += 1
        s["raw_extracted"] += 1
        s["documents_extracted"] += 1
        s["chars_extracted"] += d.chars
        s["dropped"].setdefault(d.stage, {}).setdefault(d.reason, 0)
        s["dropped"][d.stage][d.reason] += 1
        st = stages.setdefault(d.stage, {"dropped": {}, "dropped_chars": 0})
        st["dropped"][d.reason] = st["dropped"].get(d.reason, 0) + 1
        st["dropped_chars"] += d.chars
    remaining = len(docs) + len(drops)
    for st in stages.values():
        n = sum(st["dropped"].values())
        st["docs_in"], st["docs_out"] = remaining, remaining - n
        remaining -= n
    waste: dict[str, int] = {}
    for subset, _split, tokens in res["wastes"]:
        waste[subset] = waste.get(subset, 0) + tokens
    mix = res["mixture"]

    def entries(section):
        return {s: {"available_tokens": e["available_rows"] * mix["tokens_per_row"], "train_tokens": e["tokens"],
                    "realised_share": e["realised_share"], "target_share": e["target_share"]}
                for s, e in section.items()}
    mixture = {"mode": mix["mode"], "by": mix["by"], "train_tokens": mix["train_tokens"],
               "subsets": entries(mix["subsets"])}
    if "sources" in mix:
        mixture["sources"] = entries(mix["sources"])
    languages: dict[str, int] = {}
    for d in docs:
        languages[d.lang or "und"] = languages.get(d.lang or "und", 0) + 1
    n = len(docs) + len(drops)
    from gap_pipeline.config import config_hash, validate_config
    from gap_pipeline.manifest import output_files
    config = validate_config({"packing": {"seq_len": seq_len}, "seed": kw.get("seed", 1234)})
    manifest = {
        "schema_version": 1,
        "config_hash": config_hash(config),
        "config": config,
        "files": output_files(str(out)),
        "tokenizer": {"file": "tokenizer.model", "seq_len": seq_len, **sp_info},
        "accounting": {"raw_records": {"in": n, "excluded": 0, "quarantined": 0, "extracted": n},
                       "documents": {"extracted": n, "dropped": len(drops), "kept": len(docs),
                                     "tokenized": len(docs)},
                       "balanced": True},
        "stages": stages,
        "sources": dict(sorted(sources.items())),
        "mixture": mixture,
        "languages": dict(sorted(languages.items())),
        "pack": {subset: {"tail_waste_tokens": tokens} for subset, tokens in sorted(waste.items())},
        "shards": res["shards"],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return {"manifest": manifest, **res}


def run_verify(out, capsys):
    """`gap verify OUT` through the CLI: (exit code, everything it printed)."""
    from gap_pipeline.cli import main

    code = main(["verify", str(out)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err
