"""End to end on CPU: `gap train` under torchrun with 2 gloo processes on small synthetic shards.

One uninterrupted run and one stopped at step 3 then resumed share a module fixture (each torchrun
costs a few seconds of process start-up on 2 cores)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gap_pipeline.training.metrics import read_metrics
from testkit.synthetic import make_corpus

REPO = Path(__file__).resolve().parents[3]
STEPS = 10


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1", "GLOO_SOCKET_IFNAME": "lo",
                "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", "")})
    return env


def gap_train(args: list[str], nproc: int = 2, check: bool = True) -> subprocess.CompletedProcess:
    if nproc > 1:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "gap_pipeline.cli", "train", *args]
    else:
        cmd = [sys.executable, "-m", "gap_pipeline.cli", "train", *args]
    proc = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        clues = [l for l in proc.stderr.splitlines() if any(w in l for w in ("Error", "Fatal", "error:", "Traceback"))]
        raise AssertionError(f"gap train failed ({proc.returncode}):\n" + "\n".join(clues[:40]) +
                             f"\n--- stderr tail ---\n{proc.stderr[-4000:]}")
    return proc


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("train")
    corpus = make_corpus(root / "corpus", train_rows=256, train_shards=2)
    common = ["--data", str(corpus), "--preset", "tiny", "--steps", str(STEPS)]
    gap_train([*common, "--out", str(root / "full"), "--export", str(root / "hf")])
    gap_train([*common, "--out", str(root / "part"), "--stop-at", "3"])
    stopped = read_metrics(root / "part" / "metrics.jsonl")
    gap_train([*common, "--out", str(root / "part"), "--resume"])
    return {"root": root, "corpus": corpus, "common": common, "stopped": stopped}


def test_loss_goes_down(runs):
    records = read_metrics(runs["root"] / "full" / "metrics.jsonl")
    assert [r["step"] for r in records] == list(range(1, STEPS + 1))
    losses = [r["loss"] for r in records]
    assert sum(losses[-3:]) / 3 < losses[0] - 0.3, losses
    last = records[-1]
    for key in ("lr", "grad_norm", "tokens_per_s", "data_share", "val_loss/guidelines", "val_loss/papers"):
        assert key in last, key
    # 2 ranks x 4 rows per micro-batch, seq_len 32
    assert last["tokens"] == STEPS * 2 * 4 * 32 and last["consumed_samples"] == STEPS * 8
    assert records[0]["lr"] < records[1]["lr"] and records[-1]["lr"] < records[2]["lr"]   # warmup, then decay


def test_resumed_run_matches_the_uninterrupted_one(runs):
    full = read_metrics(runs["root"] / "full" / "metrics.jsonl")
    resumed = read_metrics(runs["root"] / "part" / "metrics.jsonl")
    assert [r["step"] for r in runs["stopped"]] == [1, 2, 3]
    assert [r["step"] for r in resumed] == list(range(1, STEPS + 1))
    for a, b in zip(full, resumed):
        assert abs(a["loss"] - b["loss"]) <= 1e-6, (a["step"], a["loss"], b["loss"])
        assert abs(a["grad_norm"] - b["grad_norm"]) <= 1e-6
        assert a["lr"] == b["lr"]
    assert resumed[-1]["val_loss/papers"] == pytest.approx(full[-1]["val_loss/papers"], abs=1e-6)


def test_export_gives_the_same_logits_in_transformers(runs):
    from transformers import LlamaForCausalLM

    from gap_pipeline.training.checkpoint import latest_checkpoint, load_model_weights
    from gap_pipeline.training.config import train_config_from_dict
    from gap_pipeline.training.model import Llama

    run = runs["root"] / "full"
    info = json.loads((run / "run.json").read_text())
    ours = Llama(train_config_from_dict(info["train_config"]).model)
    load_model_weights(latest_checkpoint(run), ours)   # the sharded DCP checkpoint, read in one process
    hf_dir = runs["root"] / "hf"
    assert (hf_dir / "tokenizer.model").read_bytes() == (runs["corpus"] / "tokenizer.model").read_bytes()
    hf = LlamaForCausalLM.from_pretrained(hf_dir).eval()
    ids = torch.randint(0, 128, (2, 32), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours.eval()(ids), hf(ids).logits, atol=1e-5, rtol=1e-5)
    # trained weights, not the initialisation: the model predicts the progressions better than chance
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(hf(ids[:, :-1]).logits.reshape(-1, 128), ids[:, 1:].reshape(-1))
    assert loss < torch.log(torch.tensor(128.0))


def test_init_from_an_export_and_export_only(runs):
    root = runs["root"]
    # lr 0: the weights stay those of the export, so re-exporting must give them back bit for bit.
    gap_train([*runs["common"], "--steps", "1", "--lr", "0", "--init-from", str(root / "hf"),
               "--out", str(root / "init"), "--export", str(root / "hf2")], nproc=1)
    gap_train(["--out", str(root / "init"), "--export-only", "--export", str(root / "hf3")], nproc=1)
    from safetensors.torch import load_file
    a = load_file(root / "hf" / "model.safetensors")
    for other in ("hf2", "hf3"):
        b = load_file(root / other / "model.safetensors")
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), other


def test_resume_on_other_data_and_reuse_without_resume_are_refused(runs, tmp_path):
    other = make_corpus(tmp_path / "other", train_rows=64, train_shards=1, seed=5, with_tokenizer=False)
    proc = gap_train(["--data", str(other), "--preset", "tiny", "--steps", str(STEPS + 2),
                      "--out", str(runs["root"] / "part"), "--resume"], nproc=1, check=False)
    assert proc.returncode != 0
    assert "refusing to resume" in proc.stderr and "manifest hash" in proc.stderr
    proc = gap_train([*runs["common"], "--out", str(runs["root"] / "full")], nproc=1, check=False)
    assert proc.returncode != 0 and "already holds checkpoints" in proc.stderr


def test_a_damaged_shard_stops_every_rank_with_one_line(tmp_path):
    """Local rank 0 hashes, every rank learns the result: both processes stop, naming the shard, none hangs."""
    corpus = make_corpus(tmp_path / "corpus", train_rows=64, train_shards=2, with_tokenizer=False)
    rel = "train/train-00001.arrow"
    data = bytearray((corpus / rel).read_bytes())
    data[len(data) - 40] ^= 0x01
    (corpus / rel).write_bytes(bytes(data))
    proc = gap_train(["--data", str(corpus), "--preset", "tiny", "--steps", "2", "--out", str(tmp_path / "run")],
                     check=False)
    assert proc.returncode != 0
    assert proc.stderr.count(f"gap train: shard {rel}: sha256") == 2, proc.stderr[-3000:]
    # torchrun prints its own ChildFailedError traceback for any failed child; none comes from our code.
    assert "gap_pipeline/" not in "".join(l for l in proc.stderr.splitlines(True) if l.lstrip().startswith("File "))
    assert not (tmp_path / "run").exists()
