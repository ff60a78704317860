"""`make bench-gpu` (benchmarks/gpu_train.py, whose driver is testkit/gpu_bench.py) driven on the CPU with --smoke-cpu and the tiny preset:
the same driver, torchrun workers and BENCHMARKS.md bookkeeping a GPU run uses, so the first run on a
GPU does not fail on plumbing. Also: the fused AdamW the trainer uses on CUDA steps FSDP2's DTensor
shards (with parameter groups) like the default implementation.

torch.compile variants are not run here: a compiled worker takes ~15 s more on two cores, and the
worker passes the variant to the trainer as two config flags that tests/gap_pipeline/training/test_loop.py already
trains with (compile + activation checkpointing, graphs really compiled).
"""
from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path

import pytest
import torch

from testkit import gpu_bench as gpu_train

REPO = Path(__file__).resolve().parents[2]

SMOKE = ["--smoke-cpu", "--preset", "tiny", "--steps", "4", "--warmup", "1", "--micro-tokens", "256",
         "--accum", "2"]
KEY = "cpu (smoke test) x1 tiny"
HEAD = ("# Benchmarks\n\nCPU benchmarks written by benchmarks/run.py.\n\n"
        "| stage | docs/s |\n|---|---:|\n| dedup | 12 |\n\n")


def _data(text: str) -> dict:
    found = gpu_train.DATA_RE.search(text)
    assert found, "no gpu-bench-data comment"
    return json.loads(found.group(1))


def _table(text: str) -> dict[tuple[int, str], list[str]]:
    """The section's table rows, (seq, setting) -> cells."""
    section = text[text.index(gpu_train.MARKER):]
    rows = {}
    for line in section.splitlines():
        if re.match(r"\| \d+ \|", line):
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[(int(cells[0]), cells[1])] = cells
    return rows


def _run(out: Path, *extra: str) -> int:
    return gpu_train.main([*SMOKE, "--out", str(out), *extra])


@pytest.fixture(autouse=True)
def _no_cuda(monkeypatch):
    # The smoke test is a CPU run even where a GPU exists; the no-GPU test relies on this too.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_measures_merges_and_never_overwrites_results_without_a_gpu(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    gpu_train._write(out, HEAD, {"note": "found no CUDA device", "results": {}})
    assert "Not measured yet" in out.read_text()

    assert _run(out, "--seq", "64", "--variants", "eager") == 0
    text = out.read_text()
    assert text.startswith(HEAD) and text.count(gpu_train.MARKER) == 1
    assert "Not measured yet" not in text
    data = _data(text)
    assert list(data["results"]) == [KEY]
    (eager,) = data["results"][KEY]["rows"]
    assert (eager["seq"], eager["variant"], eager["micro_batch"], eager["accum"]) == (64, "eager", 4, 2)
    assert eager["steps_measured"] == 3 and eager["precision"] == "fp32" and eager["mfu"] is None
    assert eager["tokens_per_s_per_gpu"] > 0 and eager["step_time_s"] > 0 and math.isfinite(eager["final_loss"])
    # tokens/s is tokens per optimizer step (micro-batch x accum rows of seq) over the median step time
    assert eager["tokens_per_s_per_gpu"] == pytest.approx(4 * 2 * 64 / eager["step_time_s"], rel=1e-9)
    table = _table(text)
    assert list(table) == [(64, "eager")]
    assert table[(64, "eager")][2:4] == ["4 x 2", f"{eager['tokens_per_s_per_gpu']:,.0f}"]

    # A second call measuring another setting merges into the same device block.
    assert _run(out, "--seq", "64", "--variants", "eager+AC") == 0
    text = out.read_text()
    assert text.startswith(HEAD) and text.count(gpu_train.MARKER) == 1
    rows = {r["variant"]: r for r in _data(text)["results"][KEY]["rows"]}
    assert set(rows) == {"eager", "eager+AC"}
    assert rows["eager"] == eager                                   # kept, not measured again
    assert rows["eager+AC"]["tokens_per_s_per_gpu"] > 0
    # Same data and seed: activation checkpointing recomputes exactly, so the run trained the same model.
    assert rows["eager+AC"]["final_loss"] == pytest.approx(eager["final_loss"], abs=1e-5)
    assert list(_table(text)) == [(64, "eager"), (64, "eager+AC")]

    # A machine without CUDA (and no --smoke-cpu) measures nothing and leaves the measured section alone.
    before = out.read_text()
    assert gpu_train.main(["--out", str(out)]) == 0
    assert out.read_text() == before


def test_without_a_gpu_a_note_is_written_and_the_text_before_the_marker_kept(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    out.write_text(HEAD, encoding="utf-8")
    assert gpu_train.main(["--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith(HEAD) and "Not measured yet" in text and "found no CUDA device" in text
    assert _data(text)["results"] == {}
    # Text someone added after the section survives a rewrite too.
    out.write_text(text.replace("found no CUDA device", "an older note") + "\n## Notes\n\nkept\n", encoding="utf-8")
    assert gpu_train.main(["--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith(HEAD) and text.endswith("## Notes\n\nkept\n") and text.count(gpu_train.MARKER) == 1
    assert "an older note" not in text and "found no CUDA device" in text


def test_a_failing_setting_becomes_a_failed_row_and_the_run_goes_on(tmp_path, monkeypatch):
    real = gpu_train._make_corpus

    def broken(root, seq, rows):
        if seq == 48:
            raise OSError("disk | full --> quota")   # a table cell and the data comment survive it
        corpus = real(root, seq, rows)
        if seq == 32:   # the worker finds a shard missing
            next((corpus / "train").glob("*.arrow")).unlink()
        return corpus

    monkeypatch.setattr(gpu_train, "_make_corpus", broken)
    out = tmp_path / "BENCHMARKS.md"
    out.write_text(HEAD, encoding="utf-8")
    assert _run(out, "--seq", "32", "48", "--variants", "eager") == 0
    text = out.read_text()
    assert text.startswith(HEAD)
    rows = {r["seq"]: r for r in _data(text)["results"][KEY]["rows"]}
    assert rows[32]["error"].startswith("DataError: ") and "missing on disk" in rows[32]["error"]
    assert rows[48]["error"] == "synthetic corpus: OSError: disk | full --> quota"
    table = _table(text)
    assert table[(32, "eager")][3].startswith("failed: DataError: ")
    assert table[(48, "eager")][3] == "failed: synthetic corpus: OSError: disk / full --> quota"


def test_bad_arguments_are_refused_before_the_file_is_touched(tmp_path):
    out = tmp_path / "BENCHMARKS.md"
    out.write_text(HEAD, encoding="utf-8")
    for bad in (["--preset", "70b"], ["--warmup", "4"], ["--accum", "0"]):
        with pytest.raises(SystemExit) as exc:
            gpu_train.main([*SMOKE, *bad, "--out", str(out)])
        assert exc.value.code == 2
    assert out.read_text() == HEAD


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(line for line in (proc / "status").read_text().splitlines() if line.startswith("State:"))
        except (OSError, StopIteration):
            continue
        if text in cmdline and "zombie" not in state:
            pids.append(int(proc.name))
    return pids


def test_a_setting_that_runs_too_long_is_stopped_with_its_workers(tmp_path):
    out, work = tmp_path / "BENCHMARKS.md", tmp_path / "work"
    assert gpu_train.main(["--smoke-cpu", "--preset", "tiny", "--seq", "64", "--variants", "eager",
                           "--micro-tokens", "256", "--accum", "1", "--steps", "100000", "--warmup", "1",
                           "--timeout", "20", "--work-dir", str(work), "--out", str(out)]) == 0
    metrics = work / "run-64-eager" / "metrics.jsonl"
    assert metrics.is_file() and metrics.read_text().strip(), "the worker was stopped before it trained"
    deadline = time.time() + 10
    while _processes_mentioning(str(work)) and time.time() < deadline:
        time.sleep(0.2)
    assert _processes_mentioning(str(work)) == []      # no worker left behind holding the device
    (row,) = _data(out.read_text())["results"][KEY]["rows"]
    assert row["error"] == "timed out after 20s"
    assert _table(out.read_text())[(64, "eager")][3] == "failed: timed out after 20s"


def test_fused_adamw_steps_fsdp2_shards_like_the_default():
    """What build_optimizer picks on CUDA (fused=True) against what it picks on CPU, both on the CPU
    (torch has fused AdamW kernels for both): same FSDP2 DTensor parameters, two parameter groups."""
    import torch.distributed as dist
    from torch.distributed.tensor import DTensor

    from gap_pipeline.training.config import load_train_config
    from gap_pipeline.training.loop import build_model, build_optimizer, setup_distributed

    env = setup_distributed()
    try:
        cfg = load_train_config("tiny", overrides={"model": {"vocab_size": 131}})
        states, rows = {}, torch.randint(0, 131, (3, 2, 17), generator=torch.Generator().manual_seed(0))
        for name, device in (("default", torch.device("cpu")), ("fused", torch.device("cuda"))):
            model = build_model(cfg, env, torch.float32)
            optimizer, scheduler = build_optimizer(model, cfg, device)
            assert bool(optimizer.defaults["fused"]) == (name == "fused")
            assert [len(g["params"]) for g in optimizer.param_groups][1] > 0     # the no-decay group is used
            assert all(isinstance(p, DTensor) for p in model.parameters())
            for batch in rows:
                logits = model(batch[:, :-1])
                torch.nn.functional.cross_entropy(logits.reshape(-1, 131), batch[:, 1:].reshape(-1)).backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            states[name] = {k: v.full_tensor().clone() for k, v in model.state_dict().items()}
        init = build_model(cfg, env, torch.float32).state_dict()
        for key, value in states["default"].items():
            assert not torch.equal(value, init[key].full_tensor())          # the steps really updated it
            torch.testing.assert_close(states["fused"][key], value, rtol=1e-5, atol=1e-6)
    finally:
        dist.destroy_process_group()


# Packages of ours (setup.cfg) that the GPU image (.library/device/KINDS.md: python3 with CUDA torch,
# numpy, pyarrow, pyyaml, safetensors, sentencepiece, tokenizers, transformers) does not ship, and which
# cannot be fetched there: the benchmark's driver and workers must not need them.
NOT_ON_THE_GPU_IMAGE = ("apache_beam", "scrapers", "transforms", "jsonschema", "defusedxml", "bs4", "pdfminer",
                        "langdetect", "datasketch", "datasets", "trafilatura", "datatrove")


def test_the_benchmark_runs_with_what_a_gpu_image_ships():
    import subprocess
    import sys

    code = ("import sys, runpy\n"
            f"sys.path.insert(0, {str(REPO)!r})\n"
            "import gap_pipeline.training.loop, gap_pipeline.training.export, gap_pipeline.training.metrics\n"
            "import testkit.synthetic\n"
            f"runpy.run_path({str(REPO / 'benchmarks' / 'gpu_train.py')!r}, run_name='not_main')\n"
            f"bad = sorted({{m.split('.')[0] for m in sys.modules}} & set({NOT_ON_THE_GPU_IMAGE!r}))\n"
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
