"""`make bench-gpu`: tokens/s per GPU and MFU of the bundled trainer for a ~1B Llama (the `1b` preset:
16 layers, dim 2048, GQA 32/8 heads, SwiGLU 8192, vocabulary 32,000; 1.10 B parameters) at sequence
2048 and 4096, eager and torch.compile, with and without activation checkpointing; plus the data
loader's share of step time.

Each setting runs in its own `torchrun --nproc_per_node <all GPUs>` process (so an OOM or a compile
failure costs one row, not the run), trains on synthetic shards in the real shard format, drops the
first --warmup steps (allocation, compilation, the optimizer's lazy state) and reports medians over the
rest. It then writes or replaces its own section of BENCHMARKS.md, which starts at the
`<!-- gpu-bench -->` marker that benchmarks/run.py keeps; rows of earlier calls on the same device and
preset are kept (a setting measured again replaces its row), so the settings can be measured in several
shorter calls (--seq / --variants). The file is rewritten after every setting, so a run killed part-way
keeps what it measured. A setting that fails or times out becomes a `failed: <reason>` row.

Batch shape. Each GPU runs --micro-tokens tokens per micro-batch (16,384: 8 x 2048 or 4 x 4096) and
--accum micro-batches per optimizer step (default 4, so 65,536 tokens per GPU per step; 512k per step on
8 GPUs, the order of a real 1B run's batch). Why accumulate: a step's fixed costs do not shrink with
the batch. For 1.1 B fp32 master weights, AdamW reads and writes ~28 bytes per parameter (~31 GB),
gradient clipping reads the gradients and scales them (~13 GB), and FSDP2 casts and copies the bf16
gradients into fp32 shards (~10 GB): ~55 GB of memory traffic, ~20 ms at H100 bandwidth, against
~0.26 s of matmuls for 16k tokens at 45% MFU (7.0 GFLOP/token at seq 2048). One optimizer step per
16k tokens would thus cost ~8% of MFU by itself; with 4 micro-batches it is ~2%. MFU counts the whole
step (optimizer included); --accum 1 measures the worst case.

Time. On one H100, expect per setting ~20 s of start-up (imports, NCCL, 1B init), 1-2 minutes of
compilation for the compiled variants (inside the dropped warm-up steps), and ~1.2 s per step (20 steps);
the 8 settings take ~15 minutes, so where commands are limited to 10 minutes run one sequence length per
call (`--seq 2048`, then `--seq 4096`): the second call merges into the first one's table.

Without a CUDA device it measures nothing, says so, and leaves any measured section as it is;
`--smoke-cpu --preset tiny` runs the whole driver on the CPU (tests/testkit/test_gpu_bench.py).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import signal
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

def _die_with_parent() -> None:
    """torchrun starts its workers in sessions of their own; if torchrun itself is killed (a timeout),
    they would live on and keep the GPU busy and its memory held. Ask Linux to kill us with it."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def worker(args: argparse.Namespace) -> int:
    """One setting, under torchrun: train --steps steps and write the medians (rank 0)."""
    _die_with_parent()
    try:
        return _worker(args)
    except BaseException as exc:
        # The reason for the driver's "failed: ..." row (torchrun's own summary names no cause).
        first = (str(exc).strip().splitlines() or [""])[0]
        reason = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        Path(f"{args.json}.error.{os.environ.get('RANK', '0')}").write_text(reason, encoding="utf-8")
        raise


def _worker(args: argparse.Namespace) -> int:
    import logging

    import torch

    from gap_pipeline.training.loop import RunOptions, train
    from gap_pipeline.training.metrics import read_metrics

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    cuda = torch.cuda.is_available()
    precision = "bf16" if cuda else "fp32"
    overrides = {"steps": args.steps, "micro_batch_size": args.micro_batch, "grad_accum": args.accum,
                 "eval_interval": 0, "log_interval": 5, "precision": precision, **VARIANTS[args.variant]}
    summary = train(RunOptions(data=Path(args.data), out=Path(args.run_dir), preset=args.preset,
                               overrides=overrides, save_checkpoints=False))
    if summary.get("rank", 0) != 0:
        return 0
    records = read_metrics(Path(args.run_dir) / "metrics.jsonl")[args.warmup:]
    if not records:
        raise SystemExit("no steps left after warm-up; raise --steps")
    med = lambda key: statistics.median(r[key] for r in records)  # noqa: E731
    result = {
        "tokens_per_s_per_gpu": med("tokens_per_s_per_device"),
        "mfu": med("mfu") if records[0].get("mfu") is not None else None,
        "step_time_s": med("step_time_s"),
        "data_share": med("data_share"),
        "data_time_ms": med("data_time_s") * 1e3,
        "max_mem_gb": max(r.get("max_mem_gb", 0.0) for r in records),
        "steps_measured": len(records),
        "final_loss": records[-1]["loss"],
        "precision": precision,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
    }
    Path(args.json).write_text(json.dumps(result), encoding="utf-8")
    return 0


# ---------------------------------------------------------------------------------------------- driver

def _make_corpus(root: Path, seq: int, rows: int) -> Path:
    from testkit.synthetic import make_corpus

    return make_corpus(root, seq_len=seq, vocab_size=32000, train_rows=rows, train_shards=2, batch_rows=64,
                       val_rows_per_subset=4, with_tokenizer=False)


def _stop(proc: subprocess.Popen) -> None:
    """End torchrun and its workers: SIGTERM lets torchrun stop the workers it started; SIGKILL after a
    grace period (the workers then die with it, see _die_with_parent)."""
    for sig, grace in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _failure_reason(out_json: Path, tail: list[str]) -> str:
    errors = sorted(out_json.parent.glob(out_json.name + ".error.*"))
    if errors:
        return errors[0].read_text(encoding="utf-8")
    reason = next((line for line in reversed(tail) if "OutOfMemory" in line or "out of memory" in line), None)
    reason = reason or next((line for line in reversed(tail) if "Error" in line and "ChildFailedError" not in line),
                            None)
    return reason or (tail[-1] if tail else "no output")


def _run_setting(corpus: Path, seq: int, variant: str, micro_batch: int, args: argparse.Namespace,
                 ngpu: int, tmp: Path) -> dict:
    out_json = tmp / f"result-{seq}-{variant}.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ngpu}",
           str(Path(__file__).resolve()), "--worker", "--data", str(corpus), "--seq", str(seq),
           "--variant", variant, "--micro-batch", str(micro_batch), "--accum", str(args.accum),
           "--steps", str(args.steps), "--warmup", str(args.warmup), "--preset", args.preset,
           "--json", str(out_json), "--run-dir", str(tmp / f"run-{seq}-{variant}")]
    print(f"== seq {seq}, {variant}, micro-batch {micro_batch} x accum {args.accum} x {ngpu} GPU(s)", flush=True)
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    log_path = tmp / f"log-{seq}-{variant}.txt"
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            returncode = proc.wait(timeout=args.timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            return {"error": f"timed out after {args.timeout}s"}
        except BaseException:   # Ctrl-C: do not leave a 1B model training on the GPU
            _stop(proc)
            raise
    tail = log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    if returncode != 0 or not out_json.is_file():
        print("\n".join(tail[-30:]), flush=True)
        return {"error": _failure_reason(out_json, tail).strip()[:200]}
    result = json.loads(out_json.read_text(encoding="utf-8"))
    mfu = f"{result['mfu']:.1%}" if result.get("mfu") is not None else "n/a"
    print(f"   {result['tokens_per_s_per_gpu']:,.0f} tokens/s/GPU, MFU {mfu}, data {result['data_share']:.3%}",
          flush=True)
    return result


def _cell(text: str) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def _model_line(meta: dict) -> str:

    from gap_pipeline.training.config import TrainConfigError, load_train_config
    from gap_pipeline.training.model import count_params, flops_per_token

    try:
        mcfg = load_train_config(meta["preset"]).model.replace(vocab_size=32000)
    except TrainConfigError:
        return f"Model: `{meta['preset']}` preset (no longer defined)."
    n = count_params(mcfg)
    size = f"{n / 1e9:.2f} B" if n >= 1e9 else f"{n / 1e6:.1f} M"
    return (f"Model: `{meta['preset']}` preset, {size} parameters (vocabulary 32,000); "
            f"FLOPs/token = 6N + 12·layers·dim·seq = {flops_per_token(mcfg, 2048) / 1e9:.2f} G at 2048, "
            f"{flops_per_token(mcfg, 4096) / 1e9:.2f} G at 4096.")


def _section(data: dict) -> str:
    lines = [MARKER, "## Training on GPU (`make bench-gpu`)", ""]
    if not data.get("results"):
        lines += [f"Not measured yet: {data.get('note', 'no run on a CUDA device')}", ""]
    for key in sorted(data.get("results", {})):
        block = data["results"][key]
        meta = block["meta"]
        rows = sorted(block["rows"], key=lambda r: (r["seq"], list(VARIANTS).index(r["variant"])))
        precisions = sorted({r["precision"] for r in rows if r.get("precision")})
        compute = ("bf16 compute with fp32 master weights and fp32 gradient reduction" if precisions == ["bf16"]
                   else f"{'/'.join(precisions) or 'unknown'} compute")
        peak = (f"{meta['peak_tflops']:.1f} TFLOP/s (dense bf16 peak of this device)" if meta.get("peak_tflops")
                else "the device's dense bf16 peak (unknown here: MFU n/a)")
        lines += [
            f"### {meta['device']} x {meta['ngpu']}",
            "",
            f"Last measured {meta['date']} with torch {meta['torch']}, CUDA {meta['cuda']}. {_model_line(meta)} "
            f"{compute} (FSDP2 `fully_shard` per block, then the root), AdamW "
            f"({meta.get('optimizer', 'foreach')}), synthetic shards in the real format. A step is "
            f"micro-batch x accum rows of `seq` tokens per GPU (gradient accumulation: one optimizer step per "
            f"accum micro-batches; its cost is part of the step time). Per setting, the first warm-up steps "
            f"are dropped and the medians over the rest reported. MFU = tokens/s/GPU x FLOPs/token / {peak}. "
            f"Target: ≥ {TARGET_MFU:.0%} MFU; data loading < 1% of step time.",
            "",
            "| seq | setting | micro-batch x accum | tokens/s/GPU | MFU | step time | data share of step "
            "| peak memory | steps (warm-up) |",
            "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in rows:
            shape = f"{row['micro_batch']} x {row.get('accum', 1)}"
            steps = f"{row['steps']} ({row['warmup']})" if "steps" in row else ""
            if "error" in row:
                lines.append(f"| {row['seq']} | {row['variant']} | {shape} | failed: {_cell(row['error'])} "
                             f"| | | | | {steps} |")
                continue
            mfu = f"{row['mfu']:.1%}" if row.get("mfu") is not None else "n/a"
            lines.append(f"| {row['seq']} | {row['variant']} | {shape} | {row['tokens_per_s_per_gpu']:,.0f} | "
                         f"{mfu} | {row['step_time_s'] * 1e3:,.0f} ms | {row['data_share']:.3%} | "
                         f"{row['max_mem_gb']:.1f} GiB | {steps} |")
        lines.append("")
    # ">" occurs only inside JSON strings (error messages): escaped, no "-->" can end the comment early.
    payload = json.dumps(data, sort_keys=True).replace(">", "\\u003e")
    lines.append(f"<!-- gpu-bench-data {payload} -->")
    return "\n".join(lines) + "\n"


def _read_data(out: Path) -> tuple[str, dict, str]:
    """(text before the section, the section's data, text after it)."""
    if not out.exists():
        return "", {}, ""
    text = out.read_text(encoding="utf-8")
    if MARKER not in text:
        return text, {}, ""
    head, section = text[:text.index(MARKER)], text[text.index(MARKER):]
    found = DATA_RE.search(section)
    if not found:
        return head, {}, ""
    return head, json.loads(found.group(1)), section[found.end():].lstrip("\n")


def _write(out: Path, head: str, data: dict, tail: str = "") -> None:
    body = head.rstrip() + "\n\n" if head.strip() else "# Benchmarks\n\n"
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(body + _section(data) + (("\n" + tail) if tail.strip() else ""), encoding="utf-8")
    os.replace(tmp, out)
    print(f"wrote the GPU section of {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument("--seq", type=int, nargs="*", default=[2048, 4096])
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--micro-tokens", type=int, default=16384, help="tokens per GPU per micro-batch")
    parser.add_argument("--accum", type=int, default=4, help="micro-batches per optimizer step (see above)")
    parser.add_argument("--preset", default="1b")
    parser.add_argument("--timeout", type=int, default=420, help="seconds per setting")
    parser.add_argument("--work-dir", type=Path, help="keep corpora, run folders and logs here (default: a "
                                                      "temporary folder, removed at the end)")
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

    from gap_pipeline.training.config import PRESETS

    if args.preset not in PRESETS:
        parser.error(f"unknown --preset {args.preset!r} (known: {', '.join(PRESETS)})")
    if not 0 <= args.warmup < args.steps:
        parser.error("--warmup must be >= 0 and less than --steps")
    if args.accum < 1 or args.micro_tokens < 1 or any(s < 2 for s in args.seq):
        parser.error("--accum and --micro-tokens must be >= 1 and each --seq >= 2")

    import torch

    from gap_pipeline.training.metrics import device_peak_flops

    head, data, tail = _read_data(args.out)
    if not torch.cuda.is_available() and not args.smoke_cpu:
        note = (f"`make bench-gpu` found no CUDA device on {os.uname().nodename} "
                f"({dt.date.today().isoformat()}, torch {torch.__version__}); nothing was measured. "
                "Run it on a GPU machine.")
        print(note)
        if not data.get("results"):   # never overwrite measured results with "not run"
            _write(args.out, head, {"note": note, "results": {}}, tail)
        return 0
    on_gpu = torch.cuda.is_available()
    ngpu = torch.cuda.device_count() if on_gpu else 1
    device = torch.cuda.get_device_name(0) if on_gpu else "cpu (smoke test)"
    peak = device_peak_flops(device) if on_gpu else None
    meta = {"device": device, "ngpu": ngpu, "preset": args.preset, "torch": torch.__version__,
            "cuda": torch.version.cuda, "date": dt.date.today().isoformat(), "peak_tflops": (peak or 0) / 1e12,
            "optimizer": "fused" if on_gpu else "single-tensor"}
    key = f"{device} x{ngpu} {args.preset}"
    block = data.setdefault("results", {}).setdefault(key, {"meta": meta, "rows": []})
    block["meta"] = meta
    data.pop("note", None)
    with tempfile.TemporaryDirectory(prefix="gap-bench-gpu-") as scratch:
        tmp = Path(args.work_dir or scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        for seq in args.seq:
            micro_batch = max(1, args.micro_tokens // seq)
            settings = {"seq": seq, "micro_batch": micro_batch, "accum": args.accum, "steps": args.steps,
                        "warmup": args.warmup}
            try:
                corpus = _make_corpus(tmp / f"corpus-{seq}", seq,
                                      rows=max(256, ngpu * micro_batch * args.accum * (args.steps + 2)))
            except Exception as exc:   # noqa: BLE001 - becomes this sequence length's rows
                corpus, corpus_error = None, f"synthetic corpus: {type(exc).__name__}: {exc}"[:200]
            for variant in args.variants:
                measured = (_run_setting(corpus, seq, variant, micro_batch, args, ngpu, tmp) if corpus is not None
                            else {"error": corpus_error})
                row = {**settings, "variant": variant, **measured}
                block["rows"] = [r for r in block["rows"] if (r["seq"], r["variant"]) != (seq, variant)] + [row]
                _write(args.out, head, data, tail)   # after every setting: a later timeout keeps what was measured
    return 0


if __name__ == "__main__":
    sys.exit(main())
