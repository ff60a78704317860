"""Training configuration: a model shape (a preset or a Hugging Face config.json) plus run settings.

One frozen dataclass per concern. `load_train_config(preset, path, overrides)` merges a preset with an
optional YAML file of the same shape as `TrainConfig.to_dict()`; an unknown key or a bad value is
rejected with a message naming the key, as the corpus config does.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any


class TrainConfigError(ValueError):
    """A training config is unreadable or holds an unknown key or bad value (the message names it)."""


@dataclass(frozen=True)
class ModelConfig:
    """Shape of a Llama-style decoder. vocab_size 0 means: take it from the corpus manifest."""

    dim: int = 64
    n_layers: int = 2
    n_heads: int = 4
    n_kv_heads: int = 2
    ffn_dim: int = 176
    vocab_size: int = 0
    norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    max_seq_len: int = 4096
    tie_embeddings: bool = False
    init_std: float = 0.02

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def check(self) -> None:
        if self.dim % self.n_heads:
            raise TrainConfigError(f"model.dim ({self.dim}) must be a multiple of model.n_heads ({self.n_heads})")
        if self.n_heads % self.n_kv_heads:
            raise TrainConfigError(
                f"model.n_heads ({self.n_heads}) must be a multiple of model.n_kv_heads ({self.n_kv_heads})")
        if self.head_dim % 2:
            raise TrainConfigError(f"head dim ({self.head_dim}) must be even for rotary embeddings")
        for name in ("dim", "n_layers", "n_heads", "n_kv_heads", "ffn_dim", "max_seq_len"):
            if getattr(self, name) < 1:
                raise TrainConfigError(f"model.{name} must be >= 1")


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 3e-4
    min_lr: float = 3e-5
    warmup_steps: int = 100
    betas: tuple[float, float] = (0.9, 0.95)
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eps: float = 1e-8


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    steps: int = 1000
    micro_batch_size: int = 8          # rows per rank per micro-step
    grad_accum: int = 1                # micro-steps per optimizer step
    seed: int = 1234
    shuffle: bool = True               # reshuffle the train rows each epoch (hash of seed + epoch)
    # Mixed precision: "auto" = bf16 params/compute on GPU, fp32 on CPU.
    precision: str = "auto"
    activation_checkpointing: bool = False
    compile: bool = False
    checkpoint_interval: int = 500     # optimizer steps between checkpoints (the last step is always saved)
    keep_checkpoints: int = 2
    eval_interval: int = 500           # optimizer steps between validation passes (0: never)
    eval_rows_per_subset: int = 64     # validation rows per subset and pass
    log_interval: int = 1
    peak_flops: float = 0.0            # device peak FLOP/s for MFU; 0: look up the device, else no MFU
    prefetch: bool = True              # prepare the next batch in a background thread

    def check(self) -> None:
        self.model.check()
        if self.steps < 1:
            raise TrainConfigError("steps must be >= 1")
        if self.micro_batch_size < 1 or self.grad_accum < 1:
            raise TrainConfigError("micro_batch_size and grad_accum must be >= 1")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise TrainConfigError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")
        o = self.optim
        if not (0.0 <= o.min_lr <= o.lr):
            raise TrainConfigError(f"optim.min_lr ({o.min_lr}) must be between 0 and optim.lr ({o.lr})")
        if o.warmup_steps < 0 or o.grad_clip < 0 or o.weight_decay < 0:
            raise TrainConfigError("optim.warmup_steps, grad_clip and weight_decay must be >= 0")
        if len(o.betas) != 2 or not all(0.0 <= b < 1.0 for b in o.betas):
            raise TrainConfigError(f"optim.betas must be two numbers in [0, 1), got {o.betas!r}")
        if self.checkpoint_interval < 1:
            raise TrainConfigError("checkpoint_interval must be >= 1")
        if self.keep_checkpoints < 1:
            raise TrainConfigError("keep_checkpoints must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["optim"]["betas"] = list(self.optim.betas)
        return d


# Presets: tiny for tests, ~1B (Llama-3.2-1B shape), 7B (Llama-2-7B shape). vocab_size comes from the data.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "model": {"dim": 64, "n_layers": 2, "n_heads": 4, "n_kv_heads": 2, "ffn_dim": 176, "max_seq_len": 4096},
        "optim": {"lr": 3e-3, "min_lr": 3e-4, "warmup_steps": 2},
        "micro_batch_size": 4, "checkpoint_interval": 50, "eval_interval": 50, "eval_rows_per_subset": 8,
    },
    "1b": {
        "model": {"dim": 2048, "n_layers": 16, "n_heads": 32, "n_kv_heads": 8, "ffn_dim": 8192,
                  "rope_theta": 500000.0, "max_seq_len": 8192},
        "optim": {"lr": 3e-4, "min_lr": 3e-5, "warmup_steps": 200},
        "micro_batch_size": 4,
    },
    "7b": {
        "model": {"dim": 4096, "n_layers": 32, "n_heads": 32, "n_kv_heads": 32, "ffn_dim": 11008,
                  "norm_eps": 1e-5, "rope_theta": 10000.0, "max_seq_len": 4096},
        # MEDITRON-7B: lr 3e-4 -> 3e-5 cosine, 10% warmup ~ 2000 steps, AdamW 0.9/0.95, wd 0.1, clip 1.0.
        "optim": {"lr": 3e-4, "min_lr": 3e-5, "warmup_steps": 2000},
        "micro_batch_size": 1, "activation_checkpointing": True,
    },
}


def _merge_into(obj: Any, values: Any, path: str) -> Any:
    """Return a copy of dataclass `obj` with `values` (a mapping) applied, checking keys and types."""
    if not isinstance(values, dict):
        raise TrainConfigError(f"{path or 'config'}: expected a mapping, got {type(values).__name__}")
    known = {f.name: f for f in fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        full = f"{path}.{key}" if path else str(key)
        if key not in known:
            raise TrainConfigError(f"unknown training config key {full!r} (known here: {', '.join(sorted(known))})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            changes[key] = _merge_into(current, value, full)
            continue
        if isinstance(current, tuple):
            if not isinstance(value, (list, tuple)) or len(value) != len(current):
                raise TrainConfigError(f"{full}: expected a list of {len(current)} numbers, got {value!r}")
            value = tuple(float(v) for v in value)
        elif isinstance(current, bool) != isinstance(value, bool):
            raise TrainConfigError(f"{full}: expected {type(current).__name__}, got {value!r}")
        elif isinstance(current, float) and isinstance(value, int):
            value = float(value)
        elif not isinstance(value, type(current)):
            raise TrainConfigError(f"{full}: expected {type(current).__name__}, got {value!r}")
        changes[key] = value
    return replace(obj, **changes)


def load_train_config(preset: str = "tiny", path: str | Path | None = None,
                      overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Preset, then the YAML file at `path`, then `overrides` (e.g. from CLI flags)."""
    if preset not in PRESETS:
        raise TrainConfigError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    cfg = _merge_into(TrainConfig(), PRESETS[preset], "")
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise TrainConfigError(f"training config file not found: {p}")
        from gap_pipeline.yamlfile import YamlFileError, load_yaml   # as the corpus config: duplicate keys refused
        try:
            loaded = load_yaml(p.read_text(encoding="utf-8"), str(p)) or {}
        except YamlFileError as exc:
            raise TrainConfigError(f"training {exc}") from exc
        cfg = _merge_into(cfg, loaded, "")
    if overrides:
        cfg = _merge_into(cfg, overrides, "")
    cfg.check()
    return cfg


def train_config_from_dict(d: dict[str, Any]) -> TrainConfig:
    """Rebuild a TrainConfig saved with to_dict() (e.g. RUN_DIR/train_config.json)."""
    return _merge_into(TrainConfig(), d, "")


def model_config_from_hf(hf_config: dict[str, Any]) -> ModelConfig:
    """Map a Hugging Face LlamaConfig dict (config.json) to our ModelConfig."""
    if hf_config.get("model_type") not in ("llama", None):
        raise TrainConfigError(f"--init-from: model_type {hf_config.get('model_type')!r} is not a Llama model")
    rope = hf_config.get("rope_parameters") or {}
    rope_scaling = hf_config.get("rope_scaling") or {}
    rope_type = rope.get("rope_type") or rope_scaling.get("rope_type") or rope_scaling.get("type") or "default"
    if rope_type != "default":
        raise TrainConfigError(f"--init-from: rope type {rope_type!r} is not supported (only 'default')")
    n_heads = int(hf_config["num_attention_heads"])
    dim = int(hf_config["hidden_size"])
    head_dim = hf_config.get("head_dim")
    if head_dim is not None and int(head_dim) != dim // n_heads:
        raise TrainConfigError(f"--init-from: head_dim {head_dim} != hidden_size / num_attention_heads")
    if hf_config.get("attention_bias") or hf_config.get("mlp_bias"):
        raise TrainConfigError("--init-from: attention/MLP biases are not supported")
    return ModelConfig(
        dim=dim,
        n_layers=int(hf_config["num_hidden_layers"]),
        n_heads=n_heads,
        n_kv_heads=int(hf_config.get("num_key_value_heads") or n_heads),
        ffn_dim=int(hf_config["intermediate_size"]),
        vocab_size=int(hf_config["vocab_size"]),
        norm_eps=float(hf_config.get("rms_norm_eps", 1e-6)),
        rope_theta=float(rope.get("rope_theta", hf_config.get("rope_theta", 10000.0))),
        max_seq_len=int(hf_config.get("max_position_embeddings", 4096)),
        tie_embeddings=bool(hf_config.get("tie_word_embeddings", False)),
        init_std=float(hf_config.get("initializer_range", 0.02)),
    )


def read_hf_config(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise TrainConfigError(f"--init-from {directory}: no config.json there")
    return json.loads(path.read_text(encoding="utf-8"))
