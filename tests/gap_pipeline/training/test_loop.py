"""The training loop in this process (a 1-rank gloo group): gradient accumulation, MFU, --stop-at."""
from __future__ import annotations

import pytest

from gap_pipeline.training.config import load_train_config
from gap_pipeline.training.loop import RunOptions, train
from gap_pipeline.training.metrics import read_metrics
from gap_pipeline.training.model import flops_per_token
from testkit.synthetic import make_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("c"), train_rows=96, train_shards=1, with_tokenizer=False)


def _losses(corpus, out, **overrides):
    train(RunOptions(data=corpus, out=out, preset="tiny", save_checkpoints=False,
                     overrides={"steps": 4, "eval_interval": 0, **overrides}))
    return read_metrics(out / "metrics.jsonl")


def test_gradient_accumulation_matches_one_big_batch(corpus, tmp_path):
    big = _losses(corpus, tmp_path / "big", micro_batch_size=4, grad_accum=1)
    accum = _losses(corpus, tmp_path / "acc", micro_batch_size=2, grad_accum=2)
    assert [r["consumed_samples"] for r in big] == [r["consumed_samples"] for r in accum] == [4, 8, 12, 16]
    for a, b in zip(big, accum):
        assert a["loss"] == pytest.approx(b["loss"], abs=1e-5)
        assert a["grad_norm"] == pytest.approx(b["grad_norm"], rel=1e-4)
    other = _losses(corpus, tmp_path / "other", micro_batch_size=4, seed=99)
    assert other[0]["loss"] != pytest.approx(big[0]["loss"], abs=1e-6)   # the comparison can fail


def test_mfu_uses_the_configured_peak_and_6n_plus_attention(corpus, tmp_path):
    records = _losses(corpus, tmp_path / "mfu", peak_flops=1e12)
    cfg = load_train_config("tiny").model
    fpt = flops_per_token(cfg.replace(vocab_size=128), 32)
    for r in records:
        assert r["mfu"] == pytest.approx(fpt * r["tokens_per_s_per_device"] / 1e12, rel=1e-9)
        assert 0 <= r["data_share"] < 1


def test_stop_at_keeps_the_schedule_of_the_full_run(corpus, tmp_path):
    full = _losses(corpus, tmp_path / "full")
    train(RunOptions(data=corpus, out=tmp_path / "part", preset="tiny", stop_at=2,
                     overrides={"steps": 4, "eval_interval": 0}))
    part = read_metrics(tmp_path / "part" / "metrics.jsonl")
    assert [r["step"] for r in part] == [1, 2]
    assert [r["lr"] for r in part] == [r["lr"] for r in full[:2]]
    assert (tmp_path / "part" / "checkpoints" / "step_00000002" / ".metadata").is_file()
    assert (tmp_path / "part" / "checkpoints" / "latest").read_text().strip() == "step_00000002"


def test_gpu_options_run_on_cpu_and_agree_with_plain_fp32(corpus, tmp_path):
    """Activation checkpointing, torch.compile and bf16 mixed precision are what a GPU run uses; here they
    run on the CPU and must train the same model: recomputation is exact, compiled kernels agree to float
    rounding, and bf16 compute stays close to fp32 while really being used (the losses differ)."""
    plain = _losses(corpus, tmp_path / "plain")
    ac = _losses(corpus, tmp_path / "ac", activation_checkpointing=True)
    from torch._dynamo.utils import counters
    counters.clear()
    compiled = _losses(corpus, tmp_path / "compiled", activation_checkpointing=True, compile=True)
    assert counters["stats"]["unique_graphs"] >= 1      # the blocks really went through torch.compile
    bf16 = _losses(corpus, tmp_path / "bf16", precision="bf16")
    for p, a, c, b in zip(plain, ac, compiled, bf16):
        assert a["loss"] == pytest.approx(p["loss"], abs=1e-6)
        assert c["loss"] == pytest.approx(p["loss"], rel=1e-4)
        assert b["loss"] == pytest.approx(p["loss"], abs=5e-2)
    assert [b["loss"] for b in bf16] != [p["loss"] for p in plain]
    assert plain[-1]["loss"] < plain[0]["loss"]


def test_an_out_that_is_a_file_or_under_one_is_refused_and_left_alone(corpus, tmp_path):
    from gap_pipeline.training.config import TrainConfigError

    mine = tmp_path / "mine.txt"
    mine.write_text("mine\n")
    for out, message in ((mine, "is a file, not a run folder"), (mine / "run", "cannot create the run folder")):
        with pytest.raises(TrainConfigError, match=message):
            train(RunOptions(data=corpus, out=out, preset="tiny", save_checkpoints=False, overrides={"steps": 1}))
    assert mine.read_text() == "mine\n"
