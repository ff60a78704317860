"""Checkpoints with torch.distributed.checkpoint (DCP): every rank writes its own shards in parallel.

Layout: RUN_DIR/checkpoints/step_00000042/ (a DCP folder), written as step_....tmp and renamed by
rank 0 once every rank has finished, so a folder without the .tmp suffix is always complete;
RUN_DIR/checkpoints/latest names the newest one. Besides model and optimizer (sharded DTensors),
a checkpoint holds a small "trainer" blob: step, scheduler, data state and every rank's RNG states.
"""
from __future__ import annotations

import io
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

log = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoints"


class CheckpointError(RuntimeError):
    pass


def _rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def checkpoint_path(run_dir: Path, step: int) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR / f"step_{step:08d}"


def list_checkpoints(run_dir: Path) -> list[Path]:
    folder = Path(run_dir) / CHECKPOINT_DIR
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith("step_") and "." not in p.name)


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def _all_rng_states() -> list[dict[str, Any]]:
    mine = rng_state()
    if not dist.is_initialized():
        return [mine]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, mine)
    return gathered


def _to_bytes(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def _from_bytes(data: bytes) -> Any:
    return torch.load(io.BytesIO(data), weights_only=True)


def save_checkpoint(run_dir: Path, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, data_state: dict[str, Any], keep: int = 2) -> Path:
    """Collective: every rank calls it. Returns the checkpoint folder."""
    final = checkpoint_path(run_dir, step)
    tmp = final.with_name(final.name + ".tmp")
    if _rank() == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
    _barrier()
    model_sd, optim_sd = get_state_dict(model, optimizer)
    trainer = {"step": step, "scheduler": scheduler.state_dict(), "data": data_state, "rng": _all_rng_states()}
    # Non-tensor values are written once (by the coordinator); the trainer blob is identical on all ranks.
    dcp.save({"model": model_sd, "optim": optim_sd, "trainer": _to_bytes(trainer)}, checkpoint_id=str(tmp))
    _barrier()
    if _rank() == 0:
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        latest = final.parent / "latest"
        latest_tmp = final.parent / "latest.tmp"
        latest_tmp.write_text(final.name + "\n", encoding="utf-8")
        os.replace(latest_tmp, latest)
        for old in list_checkpoints(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    _barrier()
    return final


def _complete(path: Path) -> Path:
    """`path`, or CheckpointError when it is no complete checkpoint (DCP's own error is a multi-line dump)."""
    path = Path(path)
    if not (path / ".metadata").is_file():
        raise CheckpointError(f"{path} is not a complete checkpoint (no .metadata)")
    return path


def load_checkpoint(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Collective. Loads model and optimizer in place (resharding to the current world size if it
    changed) and returns the trainer blob: step, scheduler, data, rng."""
    path = _complete(path)
    model_sd, optim_sd = get_state_dict(model, optimizer)
    state = {"model": model_sd, "optim": optim_sd, "trainer": b""}
    dcp.load(state, checkpoint_id=str(path))
    set_state_dict(model, optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"])
    return _from_bytes(state["trainer"])


def restore_rng(trainer: dict[str, Any]) -> None:
    states = trainer.get("rng") or []
    world = dist.get_world_size() if dist.is_initialized() else 1
    if len(states) == world:
        set_rng_state(states[_rank()])
    else:
        log.warning("checkpoint holds RNG states of %d ranks, this run has %d: RNG streams restart",
                    len(states), world)


def load_model_weights(path: Path, model: torch.nn.Module) -> None:
    """Load only the model from a DCP checkpoint into a plain (unsharded, single-process) model."""
    state = {"model": model.state_dict()}
    dcp.load(state, checkpoint_id=str(_complete(path)))
    model.load_state_dict(state["model"])


def read_trainer_state(path: Path) -> dict[str, Any]:
    state = {"trainer": b""}
    dcp.load(state, checkpoint_id=str(_complete(path)))
    return _from_bytes(state["trainer"])
