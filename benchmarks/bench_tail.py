"""The tokens phase (split, tokenize, pack -> row files -> mixture plan -> routing -> shards): what one
worker holds as the corpus grows, and throughput.

1. What bounds each step, at corpus sizes up to GAP-Replay's (plain arithmetic on document lengths drawn like
   MEDITRON's subsets: papers ~8,000 tokens, abstracts ~340, parts of 500 documents as the raw store writes
   them): the packer's most (one row + the longest document), the mixture plan's records (one per packed
   (part, group)), the rows one routing call handles (one part's), and the rows of one shard.
2. The real tokens phase (`gap_pipeline.pipeline.build_phase(p, "tokens", ctx)`) under Beam's FnApiRunner on
   generated documents in part files of 500, at growing sizes, 1 and 2 workers, each run in a fresh process
   with a given sentencepiece tokenizer (trained once, so tokenizer training is not timed): wall time,
   tokens/s, peak RSS of the whole process tree (sampled every 0.2 s), bytes shuffled (Beam's own
   per-PCollection size metrics, split as bench_pipeline.shuffle_bytes does), and whether the two worker
   counts wrote the same shard bytes.
Machine: 2 shared, noisy cores.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

SEED = 1234
DOCS_PER_PART = 500  # as the generated raw stores of bench_pipeline (one part per 500 records)
SUBSETS = {"papers": (8000, 0.85), "abstracts": (340, 0.15)}  # mean tokens per doc, share of tokens


# ------------------------------------------------------------------------------------------- bounds

def _lengths(total_tokens: int, seed: int = 0) -> dict[str, "np.ndarray"]:
    """Per subset, document lengths drawn exponentially around the subset's mean, up to its share of tokens."""
    import numpy as np
    rng = np.random.default_rng(seed)
    out = {}
    for subset, (mean, share) in SUBSETS.items():
        budget = int(total_tokens * share)
        lengths = np.maximum(8, rng.exponential(mean, size=int(budget / mean * 1.2) + 10)).astype(np.int64)
        out[subset] = lengths[: int(np.searchsorted(np.cumsum(lengths), budget)) + 1]
    return out


def _bounds(total_tokens: int, seq_len: int, target_bytes: int, validation: int = 100) -> dict:
    """What the largest step holds, for a corpus of `total_tokens` cut into parts of DOCS_PER_PART documents
    of one subset each (a raw-store part holds one source); every `validation`-th document is validation
    (1%; by hash in the build)."""
    import numpy as np

    from transforms.shards import shard_count
    width = seq_len + 1
    plan_records, part_rows, docs, tokens, longest = 0, [], 0, 0, 0
    for lengths in _lengths(total_tokens).values():
        docs, tokens, longest = docs + len(lengths), tokens + int(lengths.sum()), max(longest, int(lengths.max()))
        is_valid = np.arange(len(lengths)) % validation == 0
        parts = np.arange(len(lengths)) // DOCS_PER_PART
        n_parts = int(parts[-1]) + 1
        for split_tokens in (np.bincount(parts, lengths * ~is_valid, n_parts), np.bincount(parts, lengths * is_valid, n_parts)):
            rows = split_tokens.astype(np.int64) // width
            plan_records += int((rows > 0).sum())
            part_rows.append(rows)
    largest_part = max(int((a + b).max()) for a, b in zip(part_rows[0::2], part_rows[1::2]))
    rows = sum(int(r.sum()) for r in part_rows)
    n_parts = sum(len(r) for r in part_rows[0::2])
    shards = shard_count(rows * (width * 2 + 60), rows, target_bytes)
    return {"docs": docs, "tokens": tokens, "parts": n_parts, "plan_records": plan_records,
            "packer_max": longest + seq_len, "part_rows": largest_part, "shards": shards,
            "shard_rows": math.ceil(rows / shards)}


# ------------------------------------------------------------------------------- the tokens phase

WORDS = ("the of and in to a with for was were is on by as at from that patients study treatment risk dose "
         "trial clinical outcome mortality randomised cohort therapy baseline mg per day").split()
STEMS = ["cardi", "nephr", "hepat", "pulmon", "neur", "onc", "haemat", "gastr", "derm", "immun", "endocrin",
         "paediatr", "obstetr", "psychiatr", "rheumat", "infect", "vascul", "thromb", "gluc", "insul"]
ENDS = ["al", "ology", "itis", "opathy", "ic", "osis", "ectomy", "ogram", "ologist", "ary", "ine", "ase"]
VOCAB = WORDS + [s + e for s in STEMS for e in ENDS]
WEIGHTS = [1.0 / (i + 1) for i in range(len(VOCAB))]
# (subset, source, words low, words high, share of documents)
KINDS = (("papers", "pmc", 1500, 5000, 0.06), ("abstracts", "pubmed", 120, 300, 0.72),
         ("guidelines", "cdc", 300, 1500, 0.06), ("replay", "replay", 100, 600, 0.16))


def _document(i: int):
    """Generated document i (seeded by i): medical-looking prose of a subset's length."""
    from schemas.document import Document, document_id
    rng = random.Random(i)
    pick = rng.random()
    for subset, source, lo, hi, share in KINDS:
        pick -= share
        if pick < 0:
            break
    words = rng.choices(VOCAB, WEIGHTS, k=rng.randint(lo, hi))
    text = " ".join(words).replace(" the ", ". The ")
    return Document(id=document_id(source, f"doc-{i}"), source=source, subset=subset, title=f"{subset} {i}",
                    text=text, url=f"https://example.org/{source}/{i}", license="CC-BY-4.0", lang="en",
                    lang_score=0.99)


def _write_documents(n_docs: int, folder: str) -> int:
    """n_docs generated documents in part files of DOCS_PER_PART; returns the number of parts."""
    from transforms.docfiles import DocumentWriter, part_file
    parts = math.ceil(n_docs / DOCS_PER_PART)
    for part in range(parts):
        writer = DocumentWriter(part_file(folder, part))
        for i in range(part * DOCS_PER_PART, min(n_docs, (part + 1) * DOCS_PER_PART)):
            writer.add(_document(i))
        writer.close()
    return parts


def _config(seq_len: int, target_bytes: int) -> dict:
    from gap_pipeline.config import validate_config
    return validate_config({"seed": SEED, "packing": {"seq_len": seq_len}, "shards": {"target_bytes": target_bytes},
                            "tokenizer": {"vocab_size": 8000},
                            "mixture": {"mode": "shares", "shares": {"papers": 0.6, "abstracts": 0.25,
                                                                     "guidelines": 0.1, "replay": 0.05}}})


def _child(docs_dir: str, parts: int, out: str, workers: int, model_path: str, seq_len: int, target: int) -> None:
    """Run the tokens phase on the part files of `docs_dir` into `out`; print a JSON summary last."""
    import resource

    import apache_beam as beam

    import bench_pipeline
    from gap_pipeline import pipeline
    from gap_pipeline.build import beam_options, stage_counters
    from transforms.docfiles import part_file

    os.makedirs(os.path.join(out, "documents"))
    for part in range(parts):  # the tokens phase reads OUT/documents (the dedup phase's output)
        os.link(part_file(docs_dir, part), part_file(os.path.join(out, "documents"), part))
    cfg = _config(seq_len, target)
    ctx = pipeline.PhaseContext(cfg=cfg, sources={}, parts=tuple(f"part-{n}" for n in range(parts)), out=out,
                                work=os.path.join(out, "_build", "work"))
    model = Path(model_path).read_bytes()
    started = time.perf_counter()
    p = beam.Pipeline(options=beam_options([], workers))
    pipeline.build_phase(p, "tokens", ctx, model)
    result = p.run()
    result.wait_until_finish()
    wall = time.perf_counter() - started
    shards = json.loads(Path(out, "_build", "shards.json").read_text())
    stats = json.loads(Path(out, "_build", "stats-tokens.json").read_text())
    counters = stage_counters(result)
    print(json.dumps({
        "wall": wall, "tokens": sum(v[2] for k, v in stats.items() if k.startswith("tokens\t")),
        "docs": sum(v[0] for k, v in stats.items() if k.startswith("tokens\t")),
        "rows": sum(v for k, v in counters.items() if k.startswith("pack:rows_")),
        "shard_rows": sum(s["rows"] for s in shards), "shards": len(shards),
        "largest_shard": max(s["bytes"] for s in shards),
        "digest": hashlib.sha256("".join(s["path"] + s["sha256"] for s in shards).encode()).hexdigest(),
        "shuffled": bench_pipeline.shuffle_bytes(p, result),
        "rss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def _run(docs_dir: str, parts: int, workers: int, model_path: str, seq_len: int, target: int) -> dict:
    from bench_pipeline import run_sampled
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(HERE)]))
    with tempfile.TemporaryDirectory() as out:
        args = [sys.executable, str(Path(__file__).resolve()), "--child", docs_dir, str(parts), out, str(workers),
                model_path, str(seq_len), str(target)]
        return run_sampled(args, REPO, env, f"tokens phase with {workers} workers")


def bench(quick: bool = False) -> str:
    sys.path.insert(0, str(HERE))
    from transforms.tokenizer import train_sentencepiece

    seq_len, target_bytes = 4096, 64 << 20
    scales = (1 << 28, 1 << 30) if quick else (1 << 28, 1 << 30, 1 << 32)
    lines = [
        "## Tail: bounded packing, mixing and shard writing",
        "",
        "What the largest step of the tokens phase holds as the corpus grows: synthetic document lengths (papers "
        "mean 8,000 tokens, 85% of tokens; abstracts mean 340, 15%), parts of "
        f"{DOCS_PER_PART} documents of one subset, 1% validation; seq_len {seq_len:,}, `shards.target_bytes` "
        f"{target_bytes:,}. Packing streams per (part, group): it holds less than one row plus the document being "
        "added; the plan has one record per packed (part, group); routing handles one part's rows (their small "
        "columns in memory, the rows one batch at a time); a shard writer holds one shard.",
        "",
        "| corpus tokens | documents | parts | packer holds at most (tokens) | plan records | rows routed by one call "
        "| shards | rows per shard |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for total in scales:
        r = _bounds(total, seq_len, target_bytes)
        lines.append(f"| {r['tokens'] / 1e9:.2f} B | {r['docs']:,} | {r['parts']:,} | {r['packer_max']:,} | "
                     f"{r['plan_records']:,} | {r['part_rows']:,} | {r['shards']:,} | {r['shard_rows']:,} |")

    sizes = (1000, 4000) if quick else (2000, 6000, 18000)
    small_seq, small_target = 512, 1 << 20
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        model = train_sentencepiece((_document(i).text for i in range(300)),
                                    {"vocab_size": 8000, "train_max_chars": 2_000_000})
        model_path = os.path.join(tmp, "tokenizer.model")
        Path(model_path).write_bytes(model)
        for n in sizes:
            docs_dir = os.path.join(tmp, f"docs-{n}")
            parts = _write_documents(n, docs_dir)
            for workers in (1, 2):
                r = _run(docs_dir, parts, workers, model_path, small_seq, small_target)
                r.update(n=n, workers=workers, parts=parts)
                runs.append(r)
    lines += [
        "",
        f"The tokens phase itself (`build_phase(p, \"tokens\", ctx)`: split, tokenize, pack into row files, plan, "
        f"route, write shards) under FnApiRunner on generated documents (72% abstracts, 16% replay, 6% papers, 6% "
        f"guidelines, medical-looking word salad) in parts of {DOCS_PER_PART}; a given sentencepiece tokenizer "
        f"(vocabulary 8,000); seq_len {small_seq}, `shards.target_bytes` {small_target:,}; each run a fresh "
        "process tree, peak RSS summed over it (runner + workers).",
        "",
        "| documents | parts | tokens | workers | wall time | tokens/s | peak RSS, tree | shards | shuffled: token "
        "ranges / other keys / combiner inputs (bytes) | same bytes as 1 worker |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    first = {r["n"]: r for r in runs if r["workers"] == 1}
    for r in runs:
        sh = r["shuffled"]
        lines.append(
            f"| {r['n']:,} | {r['parts']} | {r['tokens'] / 1e6:.2f} M | {r['workers']} | {r['wall']:.1f} s | "
            f"{r['tokens'] / r['wall'] / 1e6:.2f} M | {r['rss_tree_mb']:,.0f} MB | {r['shards']} | "
            f"{sh.get('tokens', 0):,} / {sh.get('keys', 0):,} / {sh.get('combined', 0):,} | "
            f"{'yes' if r['digest'] == first[r['n']]['digest'] else '**no**'} |")
    a, b = first[sizes[0]], first[sizes[-1]]
    lines += [
        "",
        f"1 worker, {sizes[0]:,} -> {sizes[-1]:,} documents ({b['tokens'] / a['tokens']:.1f}x the tokens): peak RSS "
        f"{a['rss_tree_mb']:,.0f} -> {b['rss_tree_mb']:,.0f} MB ({b['rss_tree_mb'] / a['rss_tree_mb']:.2f}x); tokens/s "
        f"{a['tokens'] / a['wall'] / 1e6:.2f} M -> {b['tokens'] / b['wall'] / 1e6:.2f} M. Token ids cross no shuffle: "
        f"the token-data column is the routing's range records and part numbers, "
        f"{b['shuffled'].get('tokens', 0) / max(1, b['shards']):,.0f} bytes per shard at {sizes[-1]:,} documents.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if len(sys.argv) == 9 and sys.argv[1] == "--child":
        sys.path.insert(0, str(HERE))
        _child(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), sys.argv[6], int(sys.argv[7]),
               int(sys.argv[8]))
    else:
        print(bench(quick="--quick" in sys.argv))
