"""Trainer on CPU: tiny-model optimizer steps/s and the data loader's share of step time (FSDP2 on a
1-rank gloo group, fp32), with and without the background prefetch, side by side in one run; plus the
raw cost of gathering a 1B-benchmark-sized batch (8 rows x 2049 tokens) from memory-mapped shards."""
from __future__ import annotations

import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from gap_pipeline.training.data import GlobalSampler, TokenDataset, load_corpus  # noqa: E402
from gap_pipeline.training.loop import RunOptions, train  # noqa: E402
from gap_pipeline.training.metrics import read_metrics  # noqa: E402
from testkit.synthetic import make_corpus  # noqa: E402

SKIP_FIRST = 2   # the first steps pay for allocation and warm-up


def _run(corpus: Path, out: Path, steps: int, prefetch: bool) -> dict[str, float]:
    train(RunOptions(data=corpus, out=out, preset="tiny", save_checkpoints=False,
                     overrides={"steps": steps, "eval_interval": 0, "prefetch": prefetch, "micro_batch_size": 8}))
    records = read_metrics(out / "metrics.jsonl")[SKIP_FIRST:]
    return {
        "step_s": statistics.median(r["step_time_s"] for r in records),
        "tokens_per_s": statistics.median(r["tokens_per_s"] for r in records),
        "data_ms": statistics.median(r["data_time_s"] for r in records) * 1e3,
        "data_share": statistics.median(r["data_share"] for r in records),
    }


def _gather_cost(root: Path, repeats: int) -> tuple[float, float]:
    corpus = load_corpus(make_corpus(root, seq_len=2048, vocab_size=32000, train_rows=512, train_shards=4,
                                     batch_rows=64, with_tokenizer=False))
    ds = TokenDataset(corpus.train_shards, corpus.seq_len, corpus.vocab_size)
    sampler = GlobalSampler(len(ds), seed=0)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        ds.gather(sampler.step_rows(i * 8, 0, 1, 8, 1)[0])
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6, 8 * 2048 / statistics.median(times)


def bench(quick: bool = False) -> str:
    logging.getLogger("gap.train").setLevel(logging.WARNING)
    steps = 10 if quick else 40
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus = make_corpus(tmp / "corpus", seq_len=128, vocab_size=512, train_rows=2048, train_shards=4,
                             with_tokenizer=False)
        rows = {}
        for prefetch in (True, False, True, False) if not quick else (True, False):
            r = _run(corpus, tmp / f"run-{prefetch}-{len(rows)}", steps, prefetch)
            rows.setdefault(prefetch, []).append(r)
        gather_us, gather_tps = _gather_cost(tmp / "big", 50 if quick else 300)

    def med(prefetch: bool, key: str) -> float:
        return statistics.median(r[key] for r in rows[prefetch])

    lines = [
        "## Training (CPU, tiny model)",
        "",
        f"`gap_pipeline.training` on this machine's CPU: tiny preset (2 layers, dim 64, GQA 4/2 heads), vocabulary "
        f"512, sequence 128, 8 rows per step, fp32, FSDP2 on a 1-rank gloo group; {steps} steps per run, the first "
        f"{SKIP_FIRST} dropped, medians over steps and over {len(rows[True])} alternating run(s) per setting.",
        "",
        "| data loading | steps/s | tokens/s | data wait per step | data share of step time |",
        "|---|---:|---:|---:|---:|",
    ]
    for prefetch, label in ((True, "background prefetch (default)"), (False, "in the training thread")):
        lines.append(f"| {label} | {1 / med(prefetch, 'step_s'):.1f} | {med(prefetch, 'tokens_per_s'):,.0f} | "
                     f"{med(prefetch, 'data_ms'):.3f} ms | {med(prefetch, 'data_share'):.3%} |")
    lines += [
        "",
        f"Gathering one batch of 8 rows x 2049 tokens (the 1B GPU benchmark's micro-batch at sequence 2048) "
        f"from memory-mapped uint16 shards, in random order: {gather_us:,.0f} µs median "
        f"({gather_tps / 1e6:,.1f} M tokens/s on one core): {gather_us / 1e6 / 0.29:.3%} of a 1B-model step of "
        "8 x 2048 tokens, which takes ~0.29 s at 45% MFU on an H100 by the FLOPs formula (7.8 GFLOP/token), "
        "before the prefetch thread hides it.",
        "",
        "GPU tokens/s and MFU (1B model, sequence 2048/4096, eager/compile, with/without activation "
        "checkpointing) are measured by `make bench-gpu` (benchmarks/gpu_train.py) into its own section at the end "
        "of this file (\"Training on GPU\"); when that section is missing or says \"Not measured yet\", "
        "no GPU run has been recorded. The session that wrote the trainer had no GPU.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(bench(quick="--quick" in sys.argv))
