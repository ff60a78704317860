"""The trainer's config (gap_pipeline/training/config.py): every field's range, duplicate and unknown keys,
presets merged with a file and flags."""
from __future__ import annotations

import pytest

from gap_pipeline.training.config import TrainConfigError, load_train_config


@pytest.mark.parametrize("overrides, message", [
    ({"log_interval": 0}, "log_interval: must be >= 1, got 0"),            # was a ZeroDivisionError mid-run
    ({"eval_rows_per_subset": -1}, "eval_rows_per_subset: must be >= 1, got -1"),
    ({"optim": {"lr": -0.1}}, "optim.lr: must be >= 0"),
    ({"optim": {"betas": [0.9]}}, "optim.betas.1: missing"),
    ({"optim": {"betas": [0.9, 1.5]}}, "optim.betas must be two numbers in [0, 1)"),
    ({"model": {"norm_eps": 0.0}}, "model.norm_eps: must be > 0"),
    ({"model": {"dim": True}}, "model.dim: expected an integer, got True"),
    ({"precision": "fp16"}, "precision: must be one of 'auto', 'fp32' or 'bf16', got 'fp16'"),
    ({"steps": 2.5}, "steps: expected an integer, got 2.5"),
])
def test_config_declares_each_field_range(overrides, message):
    with pytest.raises(TrainConfigError) as err:
        load_train_config("tiny", overrides=overrides)
    assert message in str(err.value)


def test_config_file_with_a_duplicated_key_is_refused(tmp_path):
    dup = tmp_path / "dup.yaml"
    dup.write_text("steps: 3\nsteps: 4\n")
    with pytest.raises(TrainConfigError, match="duplicate key 'steps'"):
        load_train_config("tiny", dup)


def test_config_rejects_unknown_keys_and_bad_values(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("optim: {lrr: 1.0}\n")
    with pytest.raises(TrainConfigError, match="optim.lrr"):
        load_train_config("tiny", bad)
    bad.write_text("micro_batch_size: two\n")
    with pytest.raises(TrainConfigError, match="micro_batch_size"):
        load_train_config("tiny", bad)
    with pytest.raises(TrainConfigError, match="n_kv_heads"):
        load_train_config("tiny", overrides={"model": {"n_kv_heads": 3}})
    with pytest.raises(TrainConfigError, match="unknown preset"):
        load_train_config("70b")
    good = tmp_path / "g.yaml"
    good.write_text("steps: 7\noptim: {betas: [0.9, 0.99]}\nactivation_checkpointing: true\n")
    cfg = load_train_config("tiny", good)
    assert cfg.steps == 7 and cfg.optim.betas == (0.9, 0.99) and cfg.activation_checkpointing


def test_config_file_that_is_not_utf8_is_refused(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_bytes(b"steps: 3\n\xff\xfe\n")
    with pytest.raises(TrainConfigError, match="t.yaml is unreadable: 'utf-8' codec"):
        load_train_config("tiny", bad)
