"""`gap train`'s own handling: missing flags and a damaged checkpoint are one line on exit, not a traceback
(training itself is tested in tests/gap_pipeline/training/)."""
from __future__ import annotations

import json

import pytest

from gap_pipeline.cli import main
from gap_pipeline.training.config import TrainConfig


def _run_folder(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints" / "step_00000010").mkdir(parents=True)  # a checkpoint cut off before its .metadata
    config = TrainConfig().to_dict()
    config["model"]["vocab_size"] = 256  # what a real run takes from its corpus
    (run / "run.json").write_text(json.dumps({"train_config": config}))
    return run


def test_export_only_of_a_damaged_checkpoint_is_one_line(tmp_path):
    run = _run_folder(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["train", "--out", str(run), "--export-only", "--export", str(tmp_path / "hf")])
    message = str(exited.value.code)
    assert message == f"gap train: {run / 'checkpoints' / 'step_00000010'} is not a complete checkpoint (no .metadata)"
    assert not (tmp_path / "hf").exists()


@pytest.mark.parametrize("argv, needs", [
    (["train", "--data", "corpus"], "--out RUN_DIR is required"),
    (["train", "--out", "run", "--export-only"], "--export-only needs --export DIR"),
    (["train", "--out", "run"], "--data OUT (the corpus folder) is required"),
])
def test_missing_flags_are_named(argv, needs):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert needs in str(exited.value.code)
