"""`make bench-gpu`: tokens/s per GPU and MFU of the bundled trainer for a ~1B Llama (the `1b` preset:
16 layers, dim 2048, GQA 32/8 heads, SwiGLU 8192, vocabulary 32,000) at sequence 2048 and 4096, eager
and torch.compile, with and without activation checkpointing; plus the data loader's share of step time.

Each setting runs in its own `torchrun --nproc_per_node <all GPUs>` process (so an OOM or a compile
failure costs one row, not the run), trains on synthetic shards in the real shard format, drops the
first --warmup steps (allocation, compilation) and reports medians over the rest. It then writes or
replaces its own section of BENCHMARKS.md, which starts at the `<!-- gpu-bench -->` marker that
benchmarks/run.py keeps; results of earlier calls on the same device are merged, so the settings can
be measured in several shorter calls (--seq / --variants).

Without a CUDA device it measures nothing, says so, and leaves any measured section as it is.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

MARKER = "<!-- gpu-bench -->"
DATA_RE = re.compile(r"<!-- gpu-bench-data (.*?) -->", re.S)
VARIANTS = {
    "eager": {"compile": False, "activation_checkpointing": False},
    "compile": {"compile": True, "activation_checkpointing": False},
    "eager+AC": {"compile": False, "activation_checkpointing": True},
    "compile+AC": {"compile": True, "activation_checkpointing": True},
}
TARGET_MFU = 0.45


# ---------------------------------------------------------------------------------------------- worker

def worker(args: argparse.Namespace) -> int:
    """One setting, under torchrun: train --steps steps and write the medians (rank 0)."""
    import logging

    from gap_pipeline.training.loop import RunOptions, train
    from gap_pipeline.training.metrics import read_metrics

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    variant = VARIANTS[args.variant]
    overrides = {"steps": args.steps, "micro_batch_size": args.micro_batch, "eval_interval": 0,
                 "log_interval": 5, **variant}
    summary = train(RunOptions(data=Path(args.data), out=Path(args.run_dir), preset=args.preset,
                               overrides=overrides, save_checkpoints=False))
    if summary.get("rank", 0) != 0:
        return 0
    records = read_metrics(Path(args.run_dir) / "metrics.jsonl")[args.warmup:]
    if not records:
        raise SystemExit("no steps left after warm-up; raise --steps")
    med = lambda key: statistics.median(r[key] for r in records)  # noqa: E731
    import torch

    result = {
        "tokens_per_s_per_gpu": med("tokens_per_s_per_device"),
        "mfu": med("mfu") if records[0].get("mfu") is not None else None,
        "step_time_s": med("step_time_s"),
        "data_share": med("data_share"),
        "data_time_ms": med("data_time_s") * 1e3,
        "max_mem_gb": max(r.get("max_mem_gb", 0.0) for r in records),
        "steps_measured": len(records),
        "final_loss": records[-1]["loss"],
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    }
    Path(args.json).write_text(json.dumps(result), encoding="utf-8")
    return 0


# ---------------------------------------------------------------------------------------------- driver

def _make_corpus(root: Path, seq: int, rows: int) -> Path:
    from tests.training.synthetic import make_corpus

    return make_corpus(root, seq_len=seq, vocab_size=32000, train_rows=rows, train_shards=2, batch_rows=64,
                       val_rows_per_subset=4, with_tokenizer=False)


def _run_setting(corpus: Path, seq: int, variant: str, micro_batch: int, args: argparse.Namespace,
                 ngpu: int, tmp: Path) -> dict:
    out_json = tmp / f"result-{seq}-{variant}.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ngpu}",
           str(Path(__file__).resolve()), "--worker", "--data", str(corpus), "--seq", str(seq),
           "--variant", variant, "--micro-batch", str(micro_batch), "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--preset", args.preset, "--json", str(out_json),
           "--run-dir", str(tmp / f"run-{seq}-{variant}")]
    print(f"== seq {seq}, {variant}, micro-batch {micro_batch} x {ngpu} GPU(s)", flush=True)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {args.timeout}s"}
    tail = (proc.stdout + proc.stderr).strip().splitlines()
    if proc.returncode != 0 or not out_json.is_file():
        reason = next((line for line in reversed(tail) if "OutOfMemory" in line or "out of memory" in line), None)
        reason = reason or next((line for line in reversed(tail) if "Error" in line), tail[-1] if tail else "?")
        print("\n".join(tail[-30:]), flush=True)
        return {"error": reason.strip()[:200]}
    result = json.loads(out_json.read_text(encoding="utf-8"))
    print(f"   {result['tokens_per_s_per_gpu']:,.0f} tokens/s/GPU, MFU {result['mfu'] or 0:.1%}, "  # noqa: E501
          f"data {result['data_share']:.3%}", flush=True)
    return result


def _section(data: dict) -> str:
    from dataclasses import replace

    from gap_pipeline.training.config import load_train_config
    from gap_pipeline.training.model import count_params, flops_per_token

    lines = [MARKER, "## Training on GPU (`make bench-gpu`)", ""]
    if not data.get("results"):
        lines += [f"Not measured yet: {data.get('note', 'no run on a CUDA device')}", ""]
    for key in sorted(data.get("results", {})):
        block = data["results"][key]
        meta = block["meta"]
        mcfg = replace(load_train_config(meta["preset"]).model, vocab_size=32000)
        lines += [
            f"### {meta['device']} x {meta['ngpu']}",
            "",
            f"Measured {meta['date']} with torch {meta['torch']}, CUDA {meta['cuda']}. Model: `{meta['preset']}` preset, "
            f"{count_params(mcfg) / 1e9:.2f} B parameters (vocabulary 32,000), bf16 compute with fp32 master weights and "
            f"fp32 gradient reduction (FSDP2 `fully_shard` per block, then the root), AdamW, synthetic shards in the "
            f"real format; {meta['micro_tokens']:,} tokens per GPU per micro-batch, no accumulation; "
            f"{meta['steps']} steps per setting, the first {meta['warmup']} dropped, medians over the rest. "
            f"MFU = tokens/s/GPU x FLOPs/token / {meta['peak_tflops']:.1f} TFLOP/s (dense bf16 peak); FLOPs/token = 6N + "
            f"12·layers·dim·seq = {flops_per_token(mcfg, 2048) / 1e9:.2f} G at 2048, "
            f"{flops_per_token(mcfg, 4096) / 1e9:.2f} G at 4096. Target: ≥ {TARGET_MFU:.0%} MFU; data loading < 1% of step time.",
            "",
            "| seq | setting | micro-batch | tokens/s/GPU | MFU | step time | data share of step | peak memory |",
            "|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        for row in sorted(block["rows"], key=lambda r: (r["seq"], list(VARIANTS).index(r["variant"]))):
            if "error" in row:
                lines.append(f"| {row['seq']} | {row['variant']} | {row['micro_batch']} | failed: {row['error']} | | | | |")
                continue
            mfu = f"{row['mfu']:.1%}" if row.get("mfu") is not None else "n/a"
            lines.append(f"| {row['seq']} | {row['variant']} | {row['micro_batch']} | {row['tokens_per_s_per_gpu']:,.0f} | "
                         f"{mfu} | {row['step_time_s'] * 1e3:,.0f} ms | {row['data_share']:.3%} | {row['max_mem_gb']:.1f} GiB |")
        lines.append("")
    lines.append(f"<!-- gpu-bench-data {json.dumps(data, sort_keys=True)} -->")
    return "\n".join(lines) + "\n"


def _read_data(out: Path) -> tuple[str, dict]:
    if not out.exists():
        return "", {}
    text = out.read_text(encoding="utf-8")
    if MARKER not in text:
        return text, {}
    head, section = text[:text.index(MARKER)], text[text.index(MARKER):]
    found = DATA_RE.search(section)
    return head, (json.loads(found.group(1)) if found else {})


def _write(out: Path, head: str, data: dict) -> None:
    body = head.rstrip() + "\n\n" if head.strip() else "# Benchmarks\n\n"
    out.write_text(body + _section(data), encoding="utf-8")
    print(f"wrote the GPU section of {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument("--seq", type=int, nargs="*", default=[2048, 4096])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--micro-tokens", type=int, default=16384, help="tokens per GPU per micro-batch")
    parser.add_argument("--preset", default="1b")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per setting")
    parser.add_argument("--smoke-cpu", action="store_true",
                        help="exercise the whole driver on the CPU (use with --preset tiny); MFU is n/a")
    # worker mode (internal)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--variant", help=argparse.SUPPRESS)
    parser.add_argument("--micro-batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)

    import torch

    from gap_pipeline.training.metrics import device_peak_flops

    head, data = _read_data(args.out)
    if not torch.cuda.is_available() and not args.smoke_cpu:
        note = (f"`make bench-gpu` found no CUDA device on {os.uname().nodename} "
                f"({dt.date.today().isoformat()}, torch {torch.__version__}); nothing was measured. "
                "Run it on a GPU machine.")
        print(note)
        if not data.get("results"):   # never overwrite measured results with "not run"
            _write(args.out, head, {"note": note, "results": {}})
        return 0
    on_gpu = torch.cuda.is_available()
    ngpu = torch.cuda.device_count() if on_gpu else 1
    device = torch.cuda.get_device_name(0) if on_gpu else "cpu (smoke test)"
    peak = device_peak_flops(device)
    meta = {"device": device, "ngpu": ngpu, "preset": args.preset, "steps": args.steps, "warmup": args.warmup,
            "micro_tokens": args.micro_tokens, "torch": torch.__version__, "cuda": torch.version.cuda,
            "date": dt.date.today().isoformat(), "peak_tflops": (peak or 0) / 1e12}
    key = f"{device} x{ngpu} {args.preset}"
    block = data.setdefault("results", {}).setdefault(key, {"meta": meta, "rows": []})
    block["meta"] = meta
    data.pop("note", None)
    with tempfile.TemporaryDirectory(prefix="gap-bench-gpu-") as tmp:
        tmp = Path(tmp)
        for seq in args.seq:
            micro_batch = max(1, args.micro_tokens // seq)
            corpus = _make_corpus(tmp / f"corpus-{seq}", seq, rows=max(256, ngpu * micro_batch * (args.steps + 2)))
            for variant in args.variants:
                row = {"seq": seq, "variant": variant, "micro_batch": micro_batch,
                       **_run_setting(corpus, seq, variant, micro_batch, args, ngpu, tmp)}
                block["rows"] = [r for r in block["rows"] if (r["seq"], r["variant"]) != (seq, variant)] + [row]
                _write(args.out, head, data)   # after every setting: a later timeout keeps what was measured
    return 0


if __name__ == "__main__":
    sys.exit(main())
