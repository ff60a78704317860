"""The training loop, top to bottom: process group, data, model (FSDP2), optimizer, resume, steps, export.

Runs as one process (a 1-rank gloo group, so the same FSDP2 code path) or under torchrun, which sets
RANK / WORLD_SIZE / LOCAL_RANK for any number of GPUs and nodes.
"""
from __future__ import annotations

import json
import logging
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import (StateDictOptions, get_model_state_dict,
                                                     set_model_state_dict)
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor

from gap_pipeline.training import checkpoint as ckpt
from gap_pipeline.training.config import (TrainConfig, TrainConfigError, load_train_config,
                                          model_config_from_hf, read_hf_config)
from gap_pipeline.training.data import (BatchLoader, Corpus, DataError, GlobalSampler, TokenDataset, check_resume_data,
                                        data_state, load_corpus, verify_shards)
from gap_pipeline.training.export import (ExportError, check_state_dict_matches, checkpoint_tokenizer_problem,
                                          read_hf_weights, write_hf_export)
from gap_pipeline.training.metrics import MetricsLog, device_peak_flops, mfu
from gap_pipeline.training.model import Llama, causal_lm_loss, count_params, flops_per_token

log = logging.getLogger("gap.train")


@dataclass
class RunOptions:
    data: Path
    out: Path
    preset: str = "tiny"
    config_path: Path | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    resume: bool = False
    init_from: Path | None = None
    stop_at: int | None = None          # stop (with a checkpoint) after this step, as if interrupted
    export_dir: Path | None = None
    export_dtype: str | None = None
    save_checkpoints: bool = True       # off only for throughput benchmarks
    verify_shards: bool = True          # sha256 of every shard against the manifest before training


@dataclass
class DistEnv:
    rank: int
    world: int
    local_rank: int
    device: torch.device


# ---------------------------------------------------------------------------------------------- setup

def setup_distributed() -> DistEnv:
    cuda = torch.cuda.is_available()
    if dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        local = int(os.environ.get("LOCAL_RANK", rank))
    elif "RANK" in os.environ and "WORLD_SIZE" in os.environ:
        rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
        local = int(os.environ.get("LOCAL_RANK", 0))
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group("cuda:nccl,cpu:gloo" if cuda else "gloo")
    else:
        # One process without torchrun: a 1-rank group in memory, no sockets, same FSDP2 path.
        rank, world, local = 0, 1, 0
        if cuda:
            torch.cuda.set_device(0)
        dist.init_process_group("cuda:nccl,cpu:gloo" if cuda else "gloo", store=dist.HashStore(), rank=0,
                                world_size=1)
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    return DistEnv(rank, world, local, device)


def resolve_precision(cfg: TrainConfig, device: torch.device) -> torch.dtype:
    if cfg.precision == "bf16" or (cfg.precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return torch.float32


def lr_factor(step: int, *, warmup: int, total: int, min_ratio: float) -> float:
    """Linear warmup over `warmup` steps, then cosine from 1 down to min_ratio at `total`."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


class CosineSchedule:
    """A picklable LambdaLR factor (LambdaLR saves callable objects' __dict__ in its state)."""

    def __init__(self, warmup: int, total: int, min_ratio: float):
        self.warmup, self.total, self.min_ratio = warmup, total, min_ratio

    def __call__(self, step: int) -> float:
        return lr_factor(step, warmup=self.warmup, total=self.total, min_ratio=self.min_ratio)


def _adamw_implementation(device: torch.device) -> dict[str, bool]:
    """CUDA: fused AdamW, the whole update in one multi-tensor kernel instead of foreach's dozen passes
    over parameters and state (works on FSDP2's DTensor shards with parameter groups, see
    tests/testkit/test_gpu_bench.py). CPU: the single-tensor loop, as before."""
    return {"fused": True} if device.type == "cuda" else {"foreach": False}


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device):
    o = cfg.optim
    decay = [p for p in model.parameters() if p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.ndim < 2]   # norm weights
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": o.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=o.lr, betas=tuple(o.betas), eps=o.eps, **_adamw_implementation(device))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, CosineSchedule(o.warmup_steps, cfg.steps, o.min_lr / o.lr if o.lr else 1.0))
    return optimizer, scheduler


def build_model(cfg: TrainConfig, env: DistEnv, param_dtype: torch.dtype) -> Llama:
    """Build on the meta device, shard each block then the root with FSDP2, then materialise only
    this rank's shard and initialise it, so a 7B model never exists whole on one rank."""
    with torch.device("meta"):
        model = Llama(cfg.model)
    model.set_activation_checkpointing(cfg.activation_checkpointing)
    if cfg.compile:
        for block in model.layers.values():
            block.enable_compile()
    mesh = init_device_mesh(env.device.type, (env.world,))
    mp = MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=torch.float32)
    for block in model.layers.values():
        fully_shard(block, mesh=mesh, mp_policy=mp, reshard_after_forward=True)
    # The root holds embeddings, final norm and lm_head; after backward they are needed at once again.
    fully_shard(model, mesh=mesh, mp_policy=mp, reshard_after_forward=False)
    model.to_empty(device=env.device)
    torch.manual_seed(cfg.seed)
    with warnings.catch_warnings():
        # DTensor's random ops warn on a CPU mesh; the init is still seeded and deterministic.
        warnings.filterwarnings("ignore", message="DTensor random operators")
        model.init_weights(buffer_device=env.device)
    return model


def _full_tensor(x: torch.Tensor) -> torch.Tensor:
    return x.full_tensor() if isinstance(x, DTensor) else x


def _all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


# ---------------------------------------------------------------------------------------------- pieces

@torch.no_grad()
def evaluate(model: torch.nn.Module, dataset: TokenDataset, rows_by_subset: dict[str, np.ndarray],
             cfg: TrainConfig, env: DistEnv) -> dict[str, float]:
    """Mean next-token loss per subset over the first eval_rows_per_subset validation rows, split
    evenly across ranks (each rank must run the same number of forwards: FSDP gathers are collective)."""
    model.eval()
    result = {}
    for subset, rows in rows_by_subset.items():
        n_use = (min(cfg.eval_rows_per_subset, len(rows)) // env.world) * env.world
        if n_use == 0:
            continue
        mine = rows[:n_use][env.rank::env.world]
        loss_sum, tokens = 0.0, 0
        for start in range(0, len(mine), cfg.micro_batch_size):
            batch = torch.from_numpy(dataset.gather(mine[start:start + cfg.micro_batch_size])).to(env.device)
            logits = model(batch[:, :-1])
            loss = torch.nn.functional.cross_entropy(
                logits.float().reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1), reduction="sum")
            loss_sum += float(loss)
            tokens += batch[:, 1:].numel()
        total_loss, total_tokens = _all_reduce_sum([loss_sum, float(tokens)], env.device)
        result[subset] = total_loss / total_tokens
    model.train()
    return result


def _load_init_from(model: Llama, directory: Path, env: DistEnv) -> None:
    """Full HF weights read on rank 0 and broadcast into every rank's shards."""
    expected = model.state_dict()
    state: dict[str, torch.Tensor] = {}
    if env.rank == 0:
        state = read_hf_weights(directory, model.cfg)
        if model.cfg.tie_embeddings:
            state.pop("lm_head.weight", None)
            expected = {k: v for k, v in expected.items() if k != "lm_head.weight"}
        check_state_dict_matches(state, expected, f"--init-from {directory}")
    set_model_state_dict(model, state, options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True,
                                                                 strict=not model.cfg.tie_embeddings))


def resolve_config(opts: RunOptions, corpus: Corpus) -> TrainConfig:
    cfg = load_train_config(opts.preset, opts.config_path, opts.overrides)
    mcfg = cfg.model
    if opts.init_from is not None:
        mcfg = model_config_from_hf(read_hf_config(opts.init_from))
        if corpus.vocab_size > mcfg.vocab_size:
            raise TrainConfigError(f"--init-from {opts.init_from}: the model has {mcfg.vocab_size} token embeddings "
                                   f"but the corpus vocabulary has {corpus.vocab_size}")
        problem = checkpoint_tokenizer_problem(Path(opts.init_from), corpus.tokenizer_path)
        if problem:
            raise TrainConfigError(f"--init-from {opts.init_from}: the corpus was not tokenized with this model's "
                                   f"tokenizer, so token ids would mean other tokens: {problem}")
    else:
        mcfg = mcfg.replace(vocab_size=corpus.vocab_size)
    if corpus.seq_len > mcfg.max_seq_len:
        mcfg = mcfg.replace(max_seq_len=corpus.seq_len)
    cfg = cfg.replace(model=mcfg)
    cfg.check()
    return cfg


def _prepare_run_dir(opts: RunOptions, cfg: TrainConfig, corpus: Corpus, env: DistEnv,
                     export_dtype: str) -> Path | None:
    """Check the run folder against --resume; returns the checkpoint to resume from (or None)."""
    run_dir = Path(opts.out)
    if run_dir.exists() and not run_dir.is_dir():
        raise TrainConfigError(f"--out {run_dir} is a file, not a run folder")
    existing = ckpt.latest_checkpoint(run_dir)
    if existing is not None and not opts.resume:
        raise TrainConfigError(f"{run_dir} already holds checkpoints (latest {existing.name}); pass --resume to "
                               "continue that run or choose another --out")
    info_path = run_dir / "run.json"
    if existing is not None and info_path.is_file():
        saved = json.loads(info_path.read_text(encoding="utf-8"))
        if saved["train_config"]["model"] != cfg.to_dict()["model"]:
            raise TrainConfigError(f"--resume: the model in {info_path} differs from this run's "
                                   f"({saved['train_config']['model']} vs {cfg.to_dict()['model']})")
    if env.rank == 0:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # e.g. under a file, or read-only
            raise TrainConfigError(f"--out {run_dir}: cannot create the run folder: {exc.strerror or exc}") from None
        info = {"train_config": cfg.to_dict(), "data": str(corpus.root), "manifest_hash": corpus.manifest_hash,
                "tokenizer_path": str(corpus.tokenizer_path.resolve()) if corpus.tokenizer_path else None,
                "bos_id": corpus.bos_id, "eos_id": corpus.eos_id, "seq_len": corpus.seq_len,
                "world_size": env.world, "export_dtype": export_dtype,
                "init_from": str(opts.init_from) if opts.init_from else None}
        tmp = info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, info_path)
    if dist.is_initialized():
        dist.barrier()
    return existing


# ---------------------------------------------------------------------------------------------- train

def _check_shards(corpus: Corpus, env: DistEnv) -> None:
    """Local rank 0 of each node hashes every shard once (the data is per node, not per rank); all ranks
    learn the result, so either every rank trains or every rank stops with the same one-line error."""
    started = time.perf_counter()
    problems = verify_shards(corpus) if env.local_rank == 0 else []
    if dist.is_initialized() and env.world > 1:
        gathered: list[Any] = [None] * env.world
        dist.all_gather_object(gathered, problems)
        problems = sorted({p for found in gathered for p in found})
    if problems:
        more = f" (and {len(problems) - 1} more shard problem(s))" if len(problems) > 1 else ""
        raise DataError(problems[0] + more)
    if env.rank == 0:
        n = len(corpus.train_shards) + len(corpus.validation_shards)
        log.info("checked sha256 of %d shard(s) against the manifest in %.1fs", n, time.perf_counter() - started)


def train(opts: RunOptions) -> dict[str, Any]:
    env = setup_distributed()
    try:
        return _train(opts, env)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _train(opts: RunOptions, env: DistEnv) -> dict[str, Any]:
    is_main = env.rank == 0
    corpus = load_corpus(opts.data)
    cfg = resolve_config(opts, corpus)
    if opts.verify_shards:   # before anything is written: never train on damaged data
        _check_shards(corpus, env)
    param_dtype = resolve_precision(cfg, env.device)
    export_dtype = opts.export_dtype or ("bfloat16" if param_dtype == torch.bfloat16 else "float32")
    if env.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    resume_from = _prepare_run_dir(opts, cfg, corpus, env, export_dtype)

    train_set = TokenDataset(corpus.train_shards, corpus.seq_len, corpus.vocab_size, corpus.shard_rows, corpus.root)
    val_set = (TokenDataset(corpus.validation_shards, corpus.seq_len, corpus.vocab_size, corpus.shard_rows,
                            corpus.root) if corpus.validation_shards else None)
    val_rows = val_set.rows_by_subset() if val_set is not None else {}
    sampler = GlobalSampler(len(train_set), cfg.seed, cfg.shuffle)

    model = build_model(cfg, env, param_dtype)
    optimizer, scheduler = build_optimizer(model, cfg, env.device)
    start_step, consumed = 0, 0
    if resume_from is not None:
        trainer = ckpt.load_checkpoint(resume_from, model, optimizer)
        consumed = check_resume_data(trainer["data"], corpus, cfg.seed, cfg.shuffle, str(resume_from))
        scheduler.load_state_dict(trainer["scheduler"])
        ckpt.restore_rng(trainer)
        start_step = int(trainer["step"])
        if is_main:
            log.info("resumed from %s: step %d, %d samples consumed", resume_from, start_step, consumed)
    elif opts.init_from is not None:
        _load_init_from(model, Path(opts.init_from), env)
        if is_main:
            log.info("initialised from %s", opts.init_from)
    elif opts.resume and is_main:
        log.info("--resume: no checkpoint in %s yet, starting from scratch", opts.out)

    loader = BatchLoader(train_set, sampler, rank=env.rank, world=env.world, micro_batch=cfg.micro_batch_size,
                         accum=cfg.grad_accum, consumed=consumed, device=env.device, prefetch=cfg.prefetch)
    metrics = MetricsLog(Path(opts.out) / "metrics.jsonl", is_main, resume_step=start_step)
    seq = corpus.seq_len
    fpt = flops_per_token(cfg.model, seq)
    device_name = torch.cuda.get_device_name(env.device) if env.device.type == "cuda" else "cpu"
    peak = cfg.peak_flops or (device_peak_flops(device_name) if param_dtype == torch.bfloat16 else None)
    if is_main:
        log.info("model: %.1fM parameters, %s, %d rank(s) on %s, %s; %d train rows of %d tokens; "
                 "global batch %d rows", count_params(cfg.model) / 1e6, opts.preset, env.world, device_name,
                 str(param_dtype).replace("torch.", ""), len(train_set), seq, loader.step_samples)

    last_step = cfg.steps if opts.stop_at is None else min(cfg.steps, opts.stop_at)
    tokens_per_step = loader.step_samples * seq
    record: dict[str, Any] = {}
    try:
        model.train()
        for step in range(start_step + 1, last_step + 1):
            t0 = time.perf_counter()
            micro_batches = loader.next_step()
            data_time = time.perf_counter() - t0
            lr = scheduler.get_last_lr()[0]
            loss_sum = torch.zeros((), device=env.device)
            for m, (inputs, labels) in enumerate(micro_batches):
                # FSDP2: reduce-scatter gradients only on the last micro-step of an accumulation.
                model.set_requires_gradient_sync(m == len(micro_batches) - 1)
                loss = causal_lm_loss(model(inputs), labels) / len(micro_batches)
                loss.backward()
                loss_sum += loss.detach()
            max_norm = cfg.optim.grad_clip if cfg.optim.grad_clip > 0 else float("inf")
            grad_norm = _full_tensor(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm))
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss_value, = _all_reduce_sum([float(loss_sum)], env.device)
            loss_value /= env.world
            step_time = time.perf_counter() - t0
            tps = tokens_per_step / step_time
            record = {
                "step": step, "loss": loss_value, "lr": lr, "grad_norm": float(grad_norm),
                "tokens": step * tokens_per_step, "tokens_per_s": tps, "tokens_per_s_per_device": tps / env.world,
                "mfu": mfu(fpt, tps / env.world, peak), "step_time_s": step_time, "data_time_s": data_time,
                "data_share": data_time / step_time, "consumed_samples": loader.consumed,
                "epoch": loader.consumed / len(train_set),
            }
            if env.device.type == "cuda":
                record["max_mem_gb"] = torch.cuda.max_memory_allocated(env.device) / 2**30
            if val_set is not None and cfg.eval_interval > 0 and (step % cfg.eval_interval == 0 or step == cfg.steps):
                for subset, value in evaluate(model, val_set, val_rows, cfg, env).items():
                    record[f"val_loss/{subset}"] = value
            metrics.write(record)
            if step % cfg.log_interval == 0 or step == last_step:
                metrics.console(record)
            if not math.isfinite(loss_value):
                raise FloatingPointError(f"loss is {loss_value} at step {step}; stopping (last checkpoint kept)")
            if opts.save_checkpoints and (step % cfg.checkpoint_interval == 0 or step == last_step):
                path = ckpt.save_checkpoint(Path(opts.out), step, model, optimizer, scheduler,
                                            data_state(loader.consumed, corpus, cfg.seed, cfg.shuffle),
                                            keep=cfg.keep_checkpoints)
                if is_main:
                    log.info("checkpoint %s", path)

    finally:
        loader.close()

    if opts.export_dir is not None:
        full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        if is_main:
            write_hf_export(full, cfg.model, opts.export_dir, bos_id=corpus.bos_id, eos_id=corpus.eos_id,
                            tokenizer_path=corpus.tokenizer_path, dtype=export_dtype)
            log.info("exported Hugging Face checkpoint to %s", opts.export_dir)
        dist.barrier()
    return {"last_step": max(start_step, last_step), "final": record, "run_dir": str(opts.out), "rank": env.rank}


__all__ = ["RunOptions", "train", "ExportError", "lr_factor", "build_model", "setup_distributed", "evaluate"]
