"""Build the embedded sample corpus end to end (twice: 1 and 2 workers) and check the contracts."""
from __future__ import annotations

import collections
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gap_pipeline.build import run_build, sample_config_path
from gap_pipeline.config import load_config
from schemas import SUBSETS, validate_manifest, validate_shard_schema


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    cfg = load_config(sample_config_path())
    one = tmp_path_factory.mktemp("one")
    two = tmp_path_factory.mktemp("two")
    m1 = run_build(cfg, str(one), workers=1)
    m2 = run_build(cfg, str(two), workers=2)
    return (one, m1), (two, m2)


def test_manifest_accounting_adds_up(builds):
    (out, manifest), _ = builds
    validate_manifest(manifest)
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    acc = manifest["accounting"]
    raw, docs = acc["raw_records"], acc["documents"]
    assert raw["in"] == raw["excluded"] + raw["quarantined"] + raw["extracted"]
    assert docs["extracted"] == docs["dropped"] + docs["kept"]
    assert acc["balanced"] is True
    # The sample holds a truncated JATS file and a truncated PDF: both quarantined with their error.
    quarantine = [json.loads(l) for f in sorted((out / "quarantine").glob("*.jsonl")) for l in f.read_text().splitlines()]
    assert raw["quarantined"] == len(quarantine) >= 2
    assert {q["content_type"] for q in quarantine} >= {"jats", "pdf"}
    assert all(q["error"] for q in quarantine)
    # Stage arithmetic: each stage's output is the next one's input, ending at the kept count.
    stages = [manifest["stages"][name] for name in manifest["stage_order"]]
    for before, after in zip(stages, stages[1:]):
        assert before["docs_out"] == after["docs_in"]
    assert stages[-1]["docs_out"] == docs["kept"]
    # Several stages really removed something from the sample (no pass-through).
    assert {"language", "dedup_exact", "dedup_near", "quality", "decontaminate"} <= set(manifest["stages"])
    assert manifest["stages"]["language"]["dropped"], "the Spanish CDC pages must be dropped by language"
    per_source = sum(s["documents_kept"] for s in manifest["sources"].values())
    assert per_source == docs["kept"]
    # The Beam counters and the outcome files are counted independently; they agree.
    counters = manifest["counters"]
    for stage, info in manifest["stages"].items():
        for reason, n in info["dropped"].items():
            assert counters.get(f"{stage}:{reason}") == n, (stage, reason)
    for subset, waste in manifest["pack"].items():
        assert counters[f"pack:tail_waste_tokens_{subset}"] == waste["tail_waste_tokens"]
    from gap_pipeline.verify import verify_corpus
    assert verify_corpus(str(out)) == []


def test_the_manifest_counts_duplicate_clusters_as_the_drops_show_them(builds):
    (out, manifest), (_, manifest_two) = builds
    survivors = collections.Counter()
    for path in sorted((out / "dropped").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            drop = json.loads(line) if line else {}
            if drop.get("stage") in ("dedup_exact", "dedup_near") and drop.get("detail"):
                survivors[(drop["stage"], drop["detail"])] += 1
    expected = collections.defaultdict(collections.Counter)
    for (stage, _), n in survivors.items():
        expected[stage][str(1 + n)] += 1
    assert manifest["dedup"]["clusters"] == {stage: dict(sizes) for stage, sizes in expected.items()}
    assert set(manifest["dedup"]["clusters"]) == {"dedup_exact", "dedup_near"}  # the sample has both
    assert manifest_two["dedup"]["clusters"] == manifest["dedup"]["clusters"]


def test_shards_have_the_contract_schema_and_every_subset(builds):
    (out, manifest), _ = builds
    seq_len = manifest["tokenizer"]["seq_len"]
    subsets = set()
    for shard in manifest["shards"]:
        path = out / shard["path"]
        assert _sha(path) == shard["sha256"]
        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_stream(source).read_all()
        validate_shard_schema(table.schema, seq_len)
        assert table.num_rows == shard["rows"]
        assert shard["tokens"] == table.num_rows * (seq_len + 1)
        subsets |= set(table.column("subset").to_pylist())
    assert subsets == set(SUBSETS)
    assert list((out / "train").glob("*.arrow")) and list((out / "validation").glob("*.arrow"))
    shares = manifest["mixture"]["subsets"]
    for subset, entry in shares.items():
        if entry.get("target_share"):
            assert abs(entry["realised_share"] - entry["target_share"]) < 0.001, subset


def test_decoded_tokens_come_from_the_input_documents(builds):
    import sentencepiece as spm
    (out, manifest), _ = builds
    sp = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    docs = {}
    for f in sorted((out / "documents").glob("*.parquet")):
        for row in pq.read_table(f).to_pylist():
            docs[row["id"]] = row["text"]
    shard = out / manifest["shards"][0]["path"]
    with pa.memory_map(str(shard)) as source:
        table = pa.ipc.open_stream(source).read_all()
    checked = 0
    for row in table.slice(0, 20).to_pylist():
        ids, starts = row["input_ids"], row["doc_starts"]
        assert len(starts) == len(row["doc_ids"])
        for doc_id, start, end in zip(row["doc_ids"], starts, list(starts[1:]) + [len(ids)]):
            piece = [i for i in ids[start:end] if i not in (sp.bos_id(), sp.eos_id())]
            text = sp.decode(piece).strip()
            if len(text) < 40:
                continue
            # A window cut from the middle may start mid-word: compare a middle stretch of words.
            words = text.split()
            probe = " ".join(words[1:-1][:12])
            assert probe in " ".join(docs[doc_id].split()), (doc_id, probe)
            checked += 1
    assert checked >= 5


def _report_stage_table(markdown: str) -> list[tuple[str, int, int]]:
    """(stage, in, out) rows of the report's stage table."""
    lines = markdown.split("\n")
    start = lines.index(next(l for l in lines if l.startswith("| stage | in | out |")))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        name, docs_in, docs_out = [c.strip() for c in line.strip("|").split("|")][:3]
        rows.append((name, int(docs_in), int(docs_out)))
    return rows


def test_the_report_stage_table_chains_in_the_build_order(builds):
    """Each stage's docs_in is the previous stage's docs_out, from the extracted documents to the kept
    ones, and the stages come in the order the build runs them (schemas/stages.py) -- the table once sorted
    by docs_in put pubmed_updates after clean and fulltext after dedup_exact."""
    from gap_pipeline.report import collect, render_markdown
    from schemas.stages import STAGE_ORDER

    (out, manifest), _ = builds
    rows = _report_stage_table(render_markdown(collect(out), []))
    assert [name for name, _, _ in rows] == manifest["stage_order"] == [s for s in STAGE_ORDER if s in manifest["stages"]]
    assert len(rows) == len(STAGE_ORDER)  # the sample config runs every stage
    docs = manifest["accounting"]["documents"]
    assert rows[0][1] == docs["extracted"] and rows[-1][2] == docs["kept"]
    for (name, _, before), (after_name, after, _) in zip(rows, rows[1:]):
        assert after == before, f"{after_name}: in = {after} after an out of {before} ({name})"
    assert any(docs_in == docs_out for _, docs_in, docs_out in rows)  # ties that name order used to scramble
    drops = [json.loads(line) for f in sorted((out / "dropped").glob("*.jsonl"))
             for line in f.read_text(encoding="utf-8").split("\n") if line]
    assert {d["stage"] for d in drops} <= set(STAGE_ORDER)  # every stage name comes from the one declaration


def test_two_builds_are_byte_identical_across_worker_counts(builds):
    (one, m1), (two, m2) = builds
    assert m1["shards"] == m2["shards"]
    for shard in m1["shards"]:
        assert _sha(one / shard["path"]) == _sha(two / shard["path"])
    assert _sha(one / "tokenizer.model") == _sha(two / "tokenizer.model")
    assert (one / "manifest.json").read_bytes() == (two / "manifest.json").read_bytes()


def test_the_portable_job_api_builds_the_same_corpus(builds, tmp_path, capsys):
    """Flink and Spark run Beam pipelines through the portable Job API (PortableRunner -> job server).
    Beam's in-process job server (`--job_endpoint=embed`) takes the same path offline: the pipeline is
    serialised to its portable proto, submitted as a job, and run by SDK workers reached over gRPC. The
    result must be the FnApiRunner build, byte for byte, counters included."""
    from gap_pipeline.cli import main

    (one, m1), _ = builds
    out = tmp_path / "portable"
    rc = main(["build", "--out", str(out), "--", "--runner=PortableRunner", "--job_endpoint=embed",
               "--environment_type=LOOPBACK"])
    assert rc == 0, capsys.readouterr().err[-2000:]
    assert json.loads((out / "manifest.json").read_text()) == json.loads((one / "manifest.json").read_text())
    assert (out / "manifest.json").read_bytes() == (one / "manifest.json").read_bytes()
    for shard in m1["shards"]:
        assert _sha(out / shard["path"]) == shard["sha256"]
    for name in ("documents", "dropped", "quarantine"):
        assert sorted((p.name, _sha(p)) for p in (out / name).iterdir()) == \
            sorted((p.name, _sha(p)) for p in (one / name).iterdir())


def test_an_existing_tokenizer_replaces_training_and_gives_the_same_shards(builds, tmp_path):
    """`--tokenizer FILE` (e.g. Llama-2's model): here the model the first build trained, so every shard
    must come out byte-identical and the manifest must record that file's checksum."""
    (one, m1), _ = builds
    given = tmp_path / "given.model"
    given.write_bytes((one / "tokenizer.model").read_bytes())
    cfg = load_config(sample_config_path(), {"tokenizer": {"model": str(given)}})
    out = tmp_path / "out"
    m3 = run_build(cfg, str(out), workers=1)
    assert m3["tokenizer"]["sha256"] == _sha(given) == m1["tokenizer"]["sha256"]
    assert "tokenizer:sample_documents" not in m3["counters"]  # nothing was trained
    assert [(s["path"], s["sha256"]) for s in m3["shards"]] == [(s["path"], s["sha256"]) for s in m1["shards"]]


def test_train_on_the_built_corpus_and_load_the_export_in_transformers(builds, tmp_path):
    """The README's path past the build: `gap train` on the built shards, `--export`, then transformers
    loads the model and the tokenizer, and the tokenizer gives the ids the shards were packed with."""
    import os
    import subprocess
    import sys

    import sentencepiece as spm
    transformers = pytest.importorskip("transformers")

    (corpus, manifest), _ = builds
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(repo) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "gap_pipeline.cli", "train", "--data", str(corpus), "--preset", "tiny",
                           "--steps", "3", "--out", str(tmp_path / "run"), "--export", str(tmp_path / "hf")],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in steps] == [1, 2, 3] and all(r["loss"] > 0 for r in steps)

    hf = transformers.LlamaForCausalLM.from_pretrained(tmp_path / "hf")
    assert hf.config.vocab_size == manifest["tokenizer"]["vocab_size"]
    tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    sp = spm.SentencePieceProcessor(model_file=str(corpus / "tokenizer.model"))
    assert tok.bos_token_id == manifest["tokenizer"]["bos_id"] and tok.eos_token_id == manifest["tokenizer"]["eos_id"]
    texts = [t for f in sorted((corpus / "documents").glob("*.parquet")) for t in pq.read_table(f).column("text").to_pylist()]
    assert len(texts) > 20
    for text in texts:   # JATS with structure markers, guideline pages, PDF text, abstracts, replay
        assert tok(text)["input_ids"] == [sp.bos_id(), *sp.encode(text)]


def test_a_recrawled_page_is_built_once_from_its_newest_version(tmp_path):
    """The raw store appends a changed page on re-crawl; the build keeps the newest version, counts the
    older one as superseded, and `gap verify` accepts the accounting."""
    import shutil

    from gap_pipeline.build import sample_dir
    from gap_pipeline.verify import verify_corpus
    from schemas.raw import RAW_SCHEMA, RawRecord

    raw = tmp_path / "raw"
    shutil.copytree(Path(sample_dir()) / "raw", raw)
    old = pq.read_table(raw / "replay" / "part-00000.parquet").to_pylist()
    mirror = next(r for r in old if r["url"].endswith("replay-010.txt"))
    newer = RawRecord.make(source="replay", url=mirror["url"], fetched_at="2026-11-23T00:00:00Z", content_type="text",
                           content=REVISED.encode(), license="Apache-2.0")
    pq.write_table(pa.Table.from_pylist([newer.to_row()], schema=RAW_SCHEMA), raw / "replay" / "part-00001.parquet")
    cfg = load_config(sample_config_path(), {"input": str(raw)})
    out = tmp_path / "out"
    manifest = run_build(cfg, str(out), workers=1)
    assert manifest["accounting"]["raw_records"]["superseded"] == 1
    assert manifest["sources"]["replay"]["raw_superseded"] == 1
    texts = [t for f in sorted((out / "documents").glob("*.parquet")) for t in pq.read_table(f).column("text").to_pylist()]
    assert any(t.startswith("A revised page about lighthouses.") for t in texts)
    # The old copy of replay-010 is gone, so exact dedup no longer finds a duplicate in the sample.
    assert "exact_duplicate" not in manifest["stages"]["dedup_exact"]["dropped"]
    assert verify_corpus(str(out)) == []


REVISED = (
    "A revised page about lighthouses. Coastal towers guided ships for centuries, first with open fires and later "
    "with oil lamps, clockwork lenses and finally electric beacons that sweep the horizon in fixed rhythms. Each "
    "station has its own pattern of flashes, so a navigator who counts the interval between beams can tell which "
    "headland lies ahead even on a moonless night. Keepers once lived beside the lamp, trimming wicks, winding "
    "weights and logging the weather every few hours; most towers are now automated and checked by visiting "
    "engineers, while satellite positioning has become the primary aid and the lights serve as a dependable backup."
)


def test_tiny_targets_give_many_small_files_that_verify_and_match_across_workers(tmp_path, capsys):
    """The tail's memory is set by configuration, not by the corpus: packing streams per documents part
    (each (part, group) leaves less than one row of tail waste), the plan has one record per packed
    (part, group), shards are about `shards.target_bytes`. With seq_len 64 and small shard and file
    targets the sample still builds to a corpus `gap verify` accepts (exact accounting, shares within
    0.1 pp), with many small files, byte-identical with 1 and 2 workers."""
    from gap_pipeline.cli import main

    seq_len = 64
    tiny = {"packing": {"seq_len": seq_len}, "shards": {"target_bytes": 32768}, "outputs": {"target_bytes": 16384}}
    cfg = load_config(sample_config_path(), overrides=tiny)
    one, two = tmp_path / "one", tmp_path / "two"
    m1 = run_build(cfg, str(one), workers=1)
    m2 = run_build(cfg, str(two), workers=2)
    assert main(["verify", str(one)]) == 0, capsys.readouterr().out[-2000:]
    train = [s for s in m1["shards"] if s["split"] == "train"]
    assert len(train) >= 10
    rows = [s["rows"] for s in train]
    assert max(rows) - min(rows) <= 1
    row_bytes = max(s["bytes"] / s["rows"] for s in train)
    assert all(s["bytes"] <= 32768 + 2 * row_bytes + 4096 for s in m1["shards"]), [s["bytes"] for s in m1["shards"]]
    parts = len(list((one / "documents").glob("*.parquet")))
    assert parts > 3
    # Every tokenized token is in a packed row or in the tail waste of its (part, group): less than one row
    # each, so per subset and split the waste is below parts x (seq_len + 1), whatever the corpus size.
    width = seq_len + 1
    counters = m1["counters"]
    tokens: dict = {}
    for source in m1["sources"].values():
        for split, n in source["tokens"].items():
            tokens[(source["subset"], split)] = tokens.get((source["subset"], split), 0) + n
    for (subset, split), n in tokens.items():
        waste = m1["pack"].get(subset, {}).get(f"tail_waste_tokens_{split}", 0)
        packed = counters.get(f"pack:rows_{subset}_{split}", 0)
        assert packed * width + waste == n, (subset, split, packed, waste, n)
        assert waste < parts * width, (subset, split, waste)
    assert counters["pack:rows_papers_train"] >= 50
    # The rows packed are the rows the mixture planned and the shards hold.
    shard_rows: dict = {}
    for shard in m1["shards"]:
        for subset, n in shard["subset_rows"].items():
            shard_rows[(subset, shard["split"])] = shard_rows.get((subset, shard["split"]), 0) + n
    for subset, entry in m1["mixture"]["subsets"].items():
        assert entry["available_rows"] == counters.get(f"pack:rows_{subset}_train", 0), subset
        assert shard_rows.get((subset, "train"), 0) == entry["rows"], subset
        assert shard_rows.get((subset, "validation"), 0) == counters.get(f"pack:rows_{subset}_validation", 0)
    assert counters["shards:rows_train"] == sum(s["rows"] for s in train)
    assert m1["accounting"]["balanced"] is True
    for subset, entry in m1["mixture"]["subsets"].items():
        if entry.get("target_share"):
            assert abs(entry["realised_share"] - entry["target_share"]) <= 0.001, subset
    assert (one / "manifest.json").read_bytes() == (two / "manifest.json").read_bytes()
    for name in ("train", "validation", "documents", "dropped", "quarantine"):
        assert sorted((p.name, _sha(p)) for p in (one / name).iterdir()) == \
            sorted((p.name, _sha(p)) for p in (two / name).iterdir())
