"""The real pipeline tail on given documents: documents are written as the dedup phase writes them
(`documents/part-NNNNNN.parquet`, spread over a few part files) and `gap_pipeline.pipeline.build_phase(p,
"tokens", ctx)` runs on them with a validated config (tokenizer, split, tokenize, pack, mixture plan,
routing, shards); plus a manifest in the shape gap_pipeline/manifest.py writes. Used to test the tail under
Beam and to give verify/report/export a real output folder."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import apache_beam as beam

from schemas.document import Document
from schemas.events import Drop

SETTINGS = {"vocab_size": 600, "train_max_chars": 200_000}
FRACTIONS = {"guidelines": 0.2, "papers": 0.1, "abstracts": 0.1, "replay": 0.0}
SHARES = {"guidelines": 0.25, "papers": 0.45, "abstracts": 0.2, "replay": 0.1}


def tail_config(*, seq_len: int = 64, seed: int = 1234, target_bytes: int = 16384, by: str = "subset",
                shares: dict[str, float] | None = None) -> "CorpusConfig":
    """The validated build config the tests' tail runs with."""
    from gap_pipeline.config import validate_config
    return validate_config({"seed": seed, "packing": {"seq_len": seq_len}, "shards": {"target_bytes": target_bytes},
                            "tokenizer": dict(SETTINGS), "split": {"validation_fraction": dict(FRACTIONS)},
                            "mixture": {"mode": "shares", "by": by, "shares": dict(shares or SHARES)}})


def write_parts(docs: list[Document], folder: str | Path, parts: int) -> list[str]:
    """The documents in `parts` part files, round robin (document i in part i % parts), in list order."""
    from transforms.docfiles import DocumentWriter, part_file
    writers = [DocumentWriter(part_file(str(folder), n)) for n in range(parts)]
    for i, doc in enumerate(docs):
        writers[i % parts].add(doc)
    for writer in writers:
        writer.close()
    return [w.path for w in writers]


def run_stages(docs: list[Document], out_dir: str | Path, *, seq_len: int = 64, seed: int = 1234,
               target_bytes: int = 16384, workers: int = 1, by: str = "subset",
               shares: dict[str, float] | None = None, parts: int = 3,
               tokenizer_model: bytes | None = None) -> dict[str, Any]:
    """Run the build's tokens phase on `docs` into `out_dir` (FnApiRunner, `workers` processes as `gap build
    --workers`); returns {model, shards, wastes, mixture, stats, counters, config, ctx}.

    `wastes`: (subset, split, tail waste tokens) per packed (subset, split), from `_build/stats-tokens.json`.
    by="source": packing keeps rows to one source and `shares` (default SHARES) name sources."""
    from gap_pipeline import pipeline
    from gap_pipeline.build import beam_options, stage_counters
    from transforms.tokenizer import tokenizer_filename

    out = str(out_dir)
    os.makedirs(out, exist_ok=True)
    cfg = tail_config(seq_len=seq_len, seed=seed, target_bytes=target_bytes, by=by, shares=shares)
    # The tokens phase reads the dedup phase's documents (OUT/documents/part-N, one per raw part); of the
    # raw parts (ctx.parts) it only uses their number, so the documents part files stand in for them.
    part_paths = write_parts(docs, os.path.join(out, "documents"), parts)
    ctx = pipeline.PhaseContext(cfg=cfg, sources={d.source: None for d in docs}, parts=tuple(part_paths), out=out,
                                work=os.path.join(out, "_build", "work"))
    assert ctx.part_files(ctx.docs_folder("dedup")) == part_paths
    p = beam.Pipeline(options=beam_options([], workers))
    pipeline.build_phase(p, "tokens", ctx, tokenizer_model)
    result = p.run()
    result.wait_until_finish()

    def read_json(*rel):
        return json.loads(Path(out, *rel).read_text())

    stats = read_json("_build", "stats-tokens.json")
    wastes = sorted((k.split("\t")[1], k.split("\t")[2], v[2]) for k, v in stats.items()
                    if k.startswith("pack_waste\t"))
    model = tokenizer_model
    if model is None:
        model = Path(out, "tokenizer.model").read_bytes()
    assert Path(out, tokenizer_filename(model)).read_bytes() == model
    return {"model": model, "shards": read_json("_build", "shards.json"), "wastes": wastes,
            "mixture": read_json("_build", "mixture.json"), "stats": stats, "counters": stage_counters(result),
            "config": cfg, "ctx": ctx}


LICENCES = {"who": ("CC-BY-NC-SA-3.0-IGO", False), "cdc": ("public-domain", True), "pmc": ("CC-BY-4.0", True),
            "pubmed": ("public-domain", True), "replay": ("CC-BY-SA-3.0", True)}


def build_fake_out(docs: list[Document], out_dir: str | Path, drops: list[Drop] = (), **kw) -> dict[str, Any]:
    """A complete output folder in the layout and manifest format of gap_pipeline/build.py: the real tail's
    shards, tokenizer.model and documents/part-*.parquet (run_stages), plus dropped/*.jsonl,
    quarantine/*.jsonl and a manifest.json made here (there are no earlier phases to count)."""
    out = Path(out_dir)
    res = run_stages(docs, out, **kw)
    seq_len = kw.get("seq_len", 64)
    (out / "dropped").mkdir(exist_ok=True)
    (out / "dropped" / "dropped-00000-of-00001.jsonl").write_text("".join(d.to_json() + "\n" for d in drops))
    (out / "quarantine").mkdir(exist_ok=True)
    (out / "quarantine" / "quarantine-00000-of-00001.jsonl").write_text("")

    from transforms.tokenizer import tokenizer_info
    sp_info = tokenizer_info(res["model"])
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
    for key, (_docs, _chars, tokens) in res["stats"].items():  # the tail's own count per (source, split)
        kind, *rest = key.split("\t")
        if kind == "tokens":
            source, _subset, split = rest
            sources[source]["tokens"][split] += tokens
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
    from gap_pipeline.config import config_hash
    from gap_pipeline.manifest import load_stats, output_files, pack_waste
    config = res["config"]
    manifest = {
        "schema_version": 1,
        "config_hash": config_hash(config),
        "config": config.to_dict(),
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
        "pack": pack_waste(load_stats(str(out))),
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


def corpus_fixtures(name: str, build):
    """Two pytest fixtures: `pristine`, a corpus `build(out)` writes once per module, and `corpus`, a fresh
    copy of it per test (tests that break something break their own copy)."""
    import shutil

    import pytest

    @pytest.fixture(scope="module")
    def pristine(tmp_path_factory):
        out = tmp_path_factory.mktemp(name)
        build(out)
        return out

    @pytest.fixture
    def corpus(pristine, tmp_path):
        return Path(shutil.copytree(pristine, tmp_path / "corpus"))

    return pristine, corpus
