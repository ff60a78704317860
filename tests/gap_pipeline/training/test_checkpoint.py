"""gap_pipeline/training/checkpoint.py: DCP checkpoints in one CPU process without a process group: folder
names and listing, save then load (model, optimizer, trainer blob, RNG), keep, `latest`, incomplete folders."""
from __future__ import annotations

import logging

import pytest
import torch

from gap_pipeline.training.checkpoint import (CheckpointError, checkpoint_path, latest_checkpoint, list_checkpoints,
                                              load_checkpoint, load_model_weights, read_trainer_state, restore_rng,
                                              save_checkpoint)

DATA = {"consumed_samples": 12, "seed": 7, "shards": ["train/shard-00000.arrow"], "note": "α\u2028β"}


def _trained(seed: int):
    """A tiny model, its AdamW (with moments: one step taken) and a scheduler that stepped too."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (step + 1))
    model(torch.randn(3, 4)).square().sum().backward()
    optimizer.step()
    scheduler.step()
    return model, optimizer, scheduler


def _save(run_dir, step, seed=0, keep=2):
    model, optimizer, scheduler = _trained(seed)
    return save_checkpoint(run_dir, step, model, optimizer, scheduler, DATA, keep=keep), model, optimizer, scheduler


def test_folders_are_named_by_step_and_listed_in_step_order(tmp_path):
    assert checkpoint_path(tmp_path, 42) == tmp_path / "checkpoints" / "step_00000042"
    assert list_checkpoints(tmp_path) == [] and latest_checkpoint(tmp_path) is None  # no checkpoints folder
    folder = tmp_path / "checkpoints"
    for name in ("step_00000010", "step_00000002", "step_00000100.tmp", "latest.tmp", "other"):
        (folder / name).mkdir(parents=True)
    (folder / "latest").write_text("step_00000010\n")
    (folder / "step_00000200").write_text("a file, not a folder")
    assert list_checkpoints(tmp_path) == [folder / "step_00000002", folder / "step_00000010"]
    assert latest_checkpoint(str(tmp_path)) == folder / "step_00000010"


def test_save_then_load_restores_model_optimizer_and_trainer_state(tmp_path):
    path, model, optimizer, scheduler = _save(tmp_path, 3)
    assert path == checkpoint_path(tmp_path, 3) and (path / ".metadata").is_file()
    fresh_model, fresh_optimizer, _ = _trained(seed=1)  # other weights, other moments
    assert not torch.equal(fresh_model[0].weight, model[0].weight)
    trainer = load_checkpoint(path, fresh_model, fresh_optimizer)
    for a, b in zip(model.state_dict().values(), fresh_model.state_dict().values()):
        assert torch.equal(a, b)
    saved, loaded = optimizer.state_dict()["state"], fresh_optimizer.state_dict()["state"]
    assert saved.keys() == loaded.keys()
    for key in saved:
        assert torch.equal(saved[key]["exp_avg"], loaded[key]["exp_avg"])
        assert torch.equal(saved[key]["exp_avg_sq"], loaded[key]["exp_avg_sq"])
    assert trainer["step"] == 3 and trainer["data"] == DATA
    assert trainer["scheduler"] == scheduler.state_dict()
    assert len(trainer["rng"]) == 1 and trainer["rng"][0]["torch"].dtype == torch.uint8  # one rank's CPU state
    assert read_trainer_state(path)["data"] == DATA  # without a model


def test_a_plain_model_loads_only_the_weights(tmp_path):
    path, model, _, _ = _save(tmp_path, 1)
    plain, _, _ = _trained(seed=5)
    load_model_weights(path, plain)
    for a, b in zip(model.parameters(), plain.parameters()):
        assert torch.equal(a, b)


def test_latest_names_the_newest_and_only_keep_checkpoints_stay(tmp_path):
    for step in (1, 2, 3, 4):
        _save(tmp_path, step, keep=2)
    folder = tmp_path / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["latest", "step_00000003", "step_00000004"]  # no .tmp left
    assert (folder / "latest").read_text(encoding="utf-8") == "step_00000004\n"
    assert latest_checkpoint(tmp_path) == folder / "step_00000004"


def test_saving_a_step_again_replaces_it_and_a_crashed_save_is_never_listed(tmp_path):
    _save(tmp_path, 5, seed=0)
    crashed = checkpoint_path(tmp_path, 6).with_name("step_00000006.tmp")
    crashed.mkdir()
    (crashed / "__0_0.distcp").write_bytes(b"half written")
    assert latest_checkpoint(tmp_path) == checkpoint_path(tmp_path, 5)
    path, model, _, _ = _save(tmp_path, 5, seed=3)
    plain, _, _ = _trained(seed=0)
    load_model_weights(path, plain)
    assert torch.equal(plain[0].weight, model[0].weight)  # the second save's weights
    _save(tmp_path, 6)  # the leftover .tmp is cleared, not mixed into the new folder
    assert not crashed.exists() and (checkpoint_path(tmp_path, 6) / ".metadata").is_file()
    assert (checkpoint_path(tmp_path, 6) / "__0_0.distcp").read_bytes() != b"half written"


def test_restore_rng_repeats_the_random_stream_of_the_save(tmp_path):
    path, *_ = _save(tmp_path, 1)
    after_save = torch.rand(5)
    torch.manual_seed(12345)
    restore_rng(read_trainer_state(path))
    assert torch.equal(torch.rand(5), after_save)


def test_restore_rng_of_another_world_size_warns_and_leaves_the_rng(tmp_path, caplog):
    path, *_ = _save(tmp_path, 1)
    trainer = read_trainer_state(path)
    torch.manual_seed(99)
    before = torch.get_rng_state()
    with caplog.at_level(logging.WARNING, logger="gap_pipeline.training.checkpoint"):
        restore_rng({**trainer, "rng": trainer["rng"] * 2})
        restore_rng({"step": 1})
    assert torch.equal(torch.get_rng_state(), before)
    assert [r.getMessage() for r in caplog.records if r.name == "gap_pipeline.training.checkpoint"] == [
        "checkpoint holds RNG states of 2 ranks, this run has 1: RNG streams restart",
        "checkpoint holds RNG states of 0 ranks, this run has 1: RNG streams restart"]


@pytest.mark.parametrize("damage", ["no_metadata", "missing", "tmp"])
def test_an_incomplete_checkpoint_is_one_clear_error_for_every_loader(tmp_path, damage):
    path, model, optimizer, _ = _save(tmp_path, 2)
    if damage == "no_metadata":
        (path / ".metadata").unlink()
    elif damage == "missing":
        path = checkpoint_path(tmp_path, 9)
    else:
        path = path.with_name(path.name + ".tmp")
    for load in (lambda: load_checkpoint(path, model, optimizer), lambda: load_model_weights(path, model),
                 lambda: read_trainer_state(path)):
        with pytest.raises(CheckpointError) as info:
            load()
        assert str(info.value) == f"{path} is not a complete checkpoint (no .metadata)"
