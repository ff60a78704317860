"""Training configuration: a model shape (a preset or a Hugging Face config.json) plus run settings.

One frozen section per concern, every field declared once with its default, type, range and a doc line,
on the same base as the corpus config (schemas/settings.py: `Section`, `F`, the merger and the one-line
errors). `load_train_config(preset, path, overrides)` merges a preset, then an optional YAML file of the
same shape as `TrainConfig.to_dict()`, then overrides, over the defaults, and checks the result in one
pass: an unknown key or a bad value is rejected with a message naming the key's path, in the corpus
config's words (`unknown config key 'optim.lrr' (known keys here: ...)`, `optim.lr: must be >= 0, got -0.1`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from schemas.settings import F, Section, SettingsError, YamlFileError, load_yaml, merge, validate


class TrainConfigError(SettingsError):
    """A training config is unreadable or holds an unknown key or bad value (the message names it)."""


class ModelConfig(Section):
    """Shape of a Llama-style decoder. vocab_size 0 means: take it from the corpus manifest."""

    dim: int = F(64, ge=1, doc="hidden size")
    n_layers: int = F(2, ge=1, doc="transformer blocks")
    n_heads: int = F(4, ge=1, doc="attention heads")
    n_kv_heads: int = F(2, ge=1, doc="key/value heads (grouped-query attention)")
    ffn_dim: int = F(176, ge=1, doc="SwiGLU hidden size")
    vocab_size: int = F(0, ge=0, doc="token embeddings; 0: the corpus vocabulary")
    norm_eps: float = F(1e-5, gt=0, doc="RMSNorm epsilon")
    rope_theta: float = F(10000.0, gt=0, doc="RoPE base")
    max_seq_len: int = F(4096, ge=1, doc="longest sequence the RoPE tables cover")
    tie_embeddings: bool = F(False, doc="share input and output embeddings")
    init_std: float = F(0.02, gt=0, doc="std of the initial weights")

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def replace(self, **changes: Any) -> "ModelConfig":
        return _checked(lambda: super(ModelConfig, self).replace(**changes), "model")

    def check(self) -> None:
        if self.dim % self.n_heads:
            raise TrainConfigError(f"model.dim ({self.dim}) must be a multiple of model.n_heads ({self.n_heads})")
        if self.n_heads % self.n_kv_heads:
            raise TrainConfigError(
                f"model.n_heads ({self.n_heads}) must be a multiple of model.n_kv_heads ({self.n_kv_heads})")
        if self.head_dim % 2:
            raise TrainConfigError(f"head dim ({self.head_dim}) must be even for rotary embeddings")


class OptimConfig(Section):
    lr: float = F(3e-4, ge=0, doc="peak learning rate (0: weights stay as loaded)")
    min_lr: float = F(3e-5, ge=0, doc="learning rate at the end of the cosine")
    warmup_steps: int = F(100, ge=0, doc="linear warmup steps")
    betas: tuple[float, float] = Field((0.9, 0.95), strict=False, description="AdamW betas, each in [0, 1)")
    weight_decay: float = F(0.1, ge=0, doc="AdamW weight decay")
    grad_clip: float = F(1.0, ge=0, doc="gradient norm clip (0: off)")
    eps: float = F(1e-8, gt=0, doc="AdamW epsilon")


class TrainConfig(Section):
    model: ModelConfig = Field(default_factory=ModelConfig, description="model shape")
    optim: OptimConfig = Field(default_factory=OptimConfig, description="optimizer and schedule")
    steps: int = F(1000, ge=1, doc="optimizer steps in the schedule")
    micro_batch_size: int = F(8, ge=1, doc="rows per rank per micro-step")
    grad_accum: int = F(1, ge=1, doc="micro-steps per optimizer step")
    seed: int = F(1234, ge=0, doc="seed of the sample order and initialisation")
    shuffle: bool = F(True, doc="reshuffle the train rows each epoch (hash of seed + epoch)")
    precision: Literal["auto", "fp32", "bf16"] = F("auto", doc="auto: bf16 params/compute on GPU, fp32 on CPU")
    activation_checkpointing: bool = F(False, doc="recompute each block in backward")
    compile: bool = F(False, doc="torch.compile each block")
    checkpoint_interval: int = F(500, ge=1, doc="optimizer steps between checkpoints (the last is always saved)")
    keep_checkpoints: int = F(2, ge=1, doc="checkpoints kept")
    eval_interval: int = F(500, ge=0, doc="optimizer steps between validation passes (0: never)")
    eval_rows_per_subset: int = F(64, ge=1, doc="validation rows per subset and pass")
    log_interval: int = F(1, ge=1, doc="steps between console lines")
    peak_flops: float = F(0.0, ge=0, doc="device peak FLOP/s for MFU; 0: look up the device, else no MFU")
    prefetch: bool = F(True, doc="prepare the next batch in a background thread")

    def replace(self, **changes: Any) -> "TrainConfig":
        return _checked(lambda: super(TrainConfig, self).replace(**changes), "")

    def check(self) -> None:
        self.model.check()
        o = self.optim
        if not (0.0 <= o.min_lr <= o.lr):
            raise TrainConfigError(f"optim.min_lr ({o.min_lr}) must be between 0 and optim.lr ({o.lr})")
        if not all(0.0 <= b < 1.0 for b in o.betas):
            raise TrainConfigError(f"optim.betas must be two numbers in [0, 1), got {list(o.betas)!r}")

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["optim"]["betas"] = list(self.optim.betas)
        return d


def _checked(make, where: str):
    try:
        return make()
    except SettingsError as exc:
        message = str(exc)
        raise TrainConfigError(f"{where}.{message}" if where and not message.startswith("unknown") else message) \
            from None


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


def _validated(values: dict[str, Any]) -> TrainConfig:
    """Defaults, then `values` merged key by key and checked in one pass (as the corpus config)."""
    merged = merge(TrainConfig().to_dict(), values, error=TrainConfigError)
    return validate(TrainConfig, merged, error=TrainConfigError)


def load_train_config(preset: str = "tiny", path: str | Path | None = None,
                      overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Preset, then the YAML file at `path`, then `overrides` (e.g. from CLI flags)."""
    if preset not in PRESETS:
        raise TrainConfigError(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    values = merge(TrainConfig().to_dict(), PRESETS[preset], error=TrainConfigError)
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise TrainConfigError(f"training config file not found: {p}")
        try:  # as the corpus config: duplicate keys refused
            loaded = load_yaml(p.read_text(encoding="utf-8"), str(p)) or {}
        except YamlFileError as exc:
            raise TrainConfigError(f"training {exc}") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise TrainConfigError(f"training config file {p} is unreadable: {exc}") from None
        values = merge(values, loaded, error=TrainConfigError)
    if overrides:
        values = merge(values, overrides, error=TrainConfigError)
    cfg = _validated(values)
    cfg.check()
    return cfg


def train_config_from_dict(d: dict[str, Any]) -> TrainConfig:
    """Rebuild a TrainConfig saved with to_dict() (e.g. RUN_DIR/train_config.json)."""
    return _validated(d)


def model_config_from_hf(hf_config: dict[str, Any]) -> ModelConfig:
    """Map a Hugging Face LlamaConfig dict (config.json) to our ModelConfig."""
    if hf_config.get("model_type") not in ("llama", None):
        raise TrainConfigError(f"--init-from: model_type {hf_config.get('model_type')!r} is not a Llama model")
    rope = hf_config.get("rope_parameters") or {}
    rope_scaling = hf_config.get("rope_scaling") or {}
    rope_type = rope.get("rope_type") or rope_scaling.get("rope_type") or rope_scaling.get("type") or "default"
    if rope_type != "default":
        raise TrainConfigError(f"--init-from: rope type {rope_type!r} is not supported (only 'default')")
    try:
        n_heads = int(hf_config["num_attention_heads"])
        dim = int(hf_config["hidden_size"])
    except (KeyError, TypeError, ValueError) as exc:
        raise TrainConfigError(f"--init-from config.json: missing or malformed field: {exc!r}") from None
    if n_heads < 1 or dim < 1:
        raise TrainConfigError(f"--init-from config.json: num_attention_heads ({n_heads}) and hidden_size ({dim}) "
                               "must be >= 1")
    head_dim = hf_config.get("head_dim")
    if head_dim is not None and int(head_dim) != dim // n_heads:
        raise TrainConfigError(f"--init-from: head_dim {head_dim} != hidden_size / num_attention_heads")
    if hf_config.get("attention_bias") or hf_config.get("mlp_bias"):
        raise TrainConfigError("--init-from: attention/MLP biases are not supported")
    try:
        return _model_from_hf(hf_config, dim, n_heads, rope)
    except SettingsError as exc:
        raise TrainConfigError(f"--init-from config.json: model.{exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise TrainConfigError(f"--init-from config.json: missing or malformed field: {exc!r}") from None


def _model_from_hf(hf_config: dict[str, Any], dim: int, n_heads: int, rope: dict[str, Any]) -> ModelConfig:
    return validate(ModelConfig, dict(
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
    ))


def read_hf_config(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / "config.json"
    if not path.is_file():
        raise TrainConfigError(f"--init-from {directory}: no config.json there")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise TrainConfigError(f"--init-from {directory}: config.json is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise TrainConfigError(f"--init-from {directory}: config.json must hold a JSON object")
    return config
