"""Hugging Face Llama format in and out: config.json + safetensors + the corpus tokenizer (a sentencepiece
tokenizer.model, with a tokenizer.json built for AutoTokenizer; or the Hugging Face tokenizer.json the
corpus was tokenized with, as is).

Our parameter names are Hugging Face's without the `model.` prefix (see model.py), so the mapping is
a prefix. An export loads with transformers' `LlamaForCausalLM.from_pretrained(dir)`; `--init-from`
reads the same layout (one model.safetensors or an index of several) for continued pretraining.
"""
from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from gap_pipeline.training.config import ModelConfig, train_config_from_dict
from schemas.checksum import sha256_file as _sha256_file

log = logging.getLogger(__name__)

MAX_SHARD_BYTES = 5 * 1024**3
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class ExportError(RuntimeError):
    pass


def to_hf_name(name: str) -> str:
    return name if name.startswith("lm_head.") else f"model.{name}"


def from_hf_name(name: str) -> str:
    return name[len("model."):] if name.startswith("model.") else name


def hf_config_dict(cfg: ModelConfig, *, bos_id: int, eos_id: int, dtype: str) -> dict[str, Any]:
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.dim,
        "intermediate_size": cfg.ffn_dim,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.n_kv_heads,
        "head_dim": cfg.head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": cfg.max_seq_len,
        "initializer_range": cfg.init_std,
        "rms_norm_eps": cfg.norm_eps,
        # rope_theta for transformers 4.x, rope_parameters for 5.x.
        "rope_theta": cfg.rope_theta,
        "rope_parameters": {"rope_type": "default", "rope_theta": cfg.rope_theta},
        "attention_bias": False,
        "attention_dropout": 0.0,
        "mlp_bias": False,
        "tie_word_embeddings": cfg.tie_embeddings,
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "torch_dtype": dtype,
        "use_cache": True,
    }


def _write_tokenizer(tokenizer_path: Path, out: Path, *, bos_id: int, eos_id: int, max_len: int) -> None:
    """tokenizer.model as is, plus tokenizer.json so transformers' AutoTokenizer loads it without
    converting (see hf_tokenizer.py); a model that does not convert exactly ships without it."""
    import sentencepiece as spm

    from gap_pipeline.training.hf_tokenizer import TokenizerConversionError, build_tokenizer

    shutil.copyfile(tokenizer_path, out / "tokenizer.model")
    sp = spm.SentencePieceProcessor(model_file=str(tokenizer_path))
    piece = lambda i: sp.id_to_piece(i) if 0 <= i < sp.get_piece_size() else None  # noqa: E731
    unk = piece(sp.unk_id()) if sp.unk_id() >= 0 else None
    special = {"bos_token": piece(bos_id), "eos_token": piece(eos_id), "unk_token": unk}
    (out / "tokenizer.json").unlink(missing_ok=True)
    try:
        build_tokenizer(tokenizer_path.read_bytes(), bos_id=bos_id).save(str(out / "tokenizer.json"))
        tokenizer_class = "PreTrainedTokenizerFast"   # tokenizer.json as written, nothing rebuilt
    except TokenizerConversionError as exc:
        log.warning("no tokenizer.json in the export (%s); AutoTokenizer will have to convert tokenizer.model", exc)
        tokenizer_class = "LlamaTokenizer"
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": tokenizer_class, **special, "pad_token": None,
        "add_bos_token": True, "add_eos_token": False, "legacy": False,
        # sentencepiece reads a literal "<s>" in text as characters, and so does this tokenizer.
        "split_special_tokens": True,
        "model_max_length": max_len, "clean_up_tokenization_spaces": False,
    }, indent=2) + "\n", encoding="utf-8")
    (out / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n", encoding="utf-8")


def _write_hf_json_tokenizer(tokenizer_path: Path, out: Path, *, bos_id: int, eos_id: int, max_len: int) -> None:
    """A corpus tokenized with a Hugging Face tokenizer.json: the file as is, and a tokenizer_config naming
    its BOS/EOS (the ids the corpus was packed with)."""
    from tokenizers import Tokenizer

    shutil.copyfile(tokenizer_path, out / "tokenizer.json")
    (out / "tokenizer.model").unlink(missing_ok=True)
    tok = Tokenizer.from_file(str(tokenizer_path))
    special = {"bos_token": tok.id_to_token(bos_id), "eos_token": tok.id_to_token(eos_id)}
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", **special, "pad_token": None,
        "model_max_length": max_len, "clean_up_tokenization_spaces": False,
    }, indent=2) + "\n", encoding="utf-8")
    (out / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n", encoding="utf-8")


def same_tokenizer(a: Path, b: Path) -> bool:
    """Same bytes, or (two tokenizer.json files) the same tokenizer once loaded: a checkpoint's copy may be
    re-saved with other formatting."""
    if sha256_file(a) == sha256_file(b):
        return True
    if a.suffix == b.suffix == ".json":
        from tokenizers import Tokenizer
        try:
            return Tokenizer.from_file(str(a)).to_str() == Tokenizer.from_file(str(b)).to_str()
        except Exception:  # noqa: BLE001 - one of them does not load: not the same tokenizer
            return False
    return False


def checkpoint_tokenizer_problem(init_dir: Path, corpus_tokenizer: Path | None) -> str | None:
    """Why a Hugging Face checkpoint's tokenizer is not the one the corpus was tokenized with (None: it is,
    or there is nothing to compare). Token ids mean other tokens under another tokenizer."""
    if corpus_tokenizer is None:
        return None
    init_dir = Path(init_dir)
    own = init_dir / corpus_tokenizer.name            # tokenizer.model or tokenizer.json
    other = init_dir / ("tokenizer.model" if corpus_tokenizer.suffix == ".json" else "tokenizer.json")
    if own.is_file():
        if same_tokenizer(own, corpus_tokenizer):
            return None
        return (f"its {own.name} differs from the corpus tokenizer {corpus_tokenizer}; build the corpus with "
                f"gap build --tokenizer {own}")
    if other.is_file():
        return (f"it has {other.name} and no {own.name}, but the corpus was tokenized with {corpus_tokenizer.name}; "
                f"build the corpus with gap build --tokenizer {other}")
    return None


def write_hf_export(state_dict: dict[str, torch.Tensor], cfg: ModelConfig, out_dir: str | Path, *,
                    bos_id: int, eos_id: int, tokenizer_path: Path | None, dtype: str = "float32",
                    max_shard_bytes: int = MAX_SHARD_BYTES) -> Path:
    """Write a full (unsharded) state dict with our names as a Hugging Face Llama checkpoint."""
    if dtype not in DTYPES:
        raise ExportError(f"export dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    for name, value in state_dict.items():
        if cfg.tie_embeddings and name == "lm_head.weight":
            continue  # transformers re-ties it to the embedding
        tensors[to_hf_name(name)] = value.detach().to("cpu", DTYPES[dtype]).contiguous()
    # Shard by size so a 7B export stays loadable piecewise; one file when it fits.
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name in sorted(tensors):
        nbytes = tensors[name].numel() * tensors[name].element_size()
        if shards[-1] and size + nbytes > max_shard_bytes:
            shards.append({})
            size = 0
        shards[-1][name] = tensors[name]
        size += nbytes
    for old in out.glob("model*.safetensors"):
        old.unlink()
    if len(shards) == 1:
        save_file(shards[0], str(out / "model.safetensors"), metadata={"format": "pt"})
        (out / "model.safetensors.index.json").unlink(missing_ok=True)
    else:
        weight_map = {}
        for i, shard in enumerate(shards, 1):
            fname = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
            save_file(shard, str(out / fname), metadata={"format": "pt"})
            weight_map.update({k: fname for k in shard})
        total = sum(t.numel() * t.element_size() for t in tensors.values())
        (out / "model.safetensors.index.json").write_text(
            json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2) + "\n", encoding="utf-8")
    (out / "config.json").write_text(
        json.dumps(hf_config_dict(cfg, bos_id=bos_id, eos_id=eos_id, dtype=dtype), indent=2) + "\n", encoding="utf-8")
    (out / "generation_config.json").write_text(
        json.dumps({"bos_token_id": bos_id, "eos_token_id": eos_id}, indent=2) + "\n", encoding="utf-8")
    if tokenizer_path is not None and Path(tokenizer_path).suffix == ".json":
        _write_hf_json_tokenizer(Path(tokenizer_path), out, bos_id=bos_id, eos_id=eos_id, max_len=cfg.max_seq_len)
    elif tokenizer_path is not None:
        _write_tokenizer(Path(tokenizer_path), out, bos_id=bos_id, eos_id=eos_id, max_len=cfg.max_seq_len)
    else:
        log.warning("no tokenizer.model beside the corpus: the export has weights and config only")
    return out


def read_hf_weights(directory: str | Path, cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Read a Hugging Face Llama safetensors checkpoint as a full state dict with our names (fp32)."""
    directory = Path(directory)
    index = directory / "model.safetensors.index.json"
    if index.is_file():
        files = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
    else:
        files = sorted(p.name for p in directory.glob("*.safetensors"))
    if not files:
        raise ExportError(f"--init-from {directory}: no *.safetensors files (only safetensors checkpoints are read)")
    state: dict[str, torch.Tensor] = {}
    for fname in files:
        with safe_open(str(directory / fname), framework="pt") as f:
            for key in f.keys():
                if key.endswith("rotary_emb.inv_freq"):
                    continue  # a buffer some old exports carry; we compute it
                state[from_hf_name(key)] = f.get_tensor(key).float()
    if "lm_head.weight" not in state and cfg.tie_embeddings:
        state["lm_head.weight"] = state["embed_tokens.weight"]
    return state


def check_state_dict_matches(state: dict[str, torch.Tensor], expected: dict[str, Any], where: str) -> None:
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ExportError(f"{where}: weights do not match the model (missing {missing[:5]}, unexpected {unexpected[:5]})")
    for name, value in expected.items():
        if tuple(state[name].shape) != tuple(value.shape):
            raise ExportError(f"{where}: {name} has shape {tuple(state[name].shape)}, model expects {tuple(value.shape)}")


def sha256_file(path: Path) -> str:
    return _sha256_file(path)


def export_run(run_dir: str | Path, out_dir: str | Path, *, step: int | None = None,
               dtype: str | None = None) -> Path:
    """Export a checkpoint of a run (the latest unless `step`), in this single process, without a
    process group: DCP reads the rank shards into one full state dict."""
    from gap_pipeline.training.checkpoint import checkpoint_path, latest_checkpoint, load_model_weights
    from gap_pipeline.training.model import Llama

    run_dir = Path(run_dir)
    info_path = run_dir / "run.json"
    if not info_path.is_file():
        raise ExportError(f"{run_dir}: no run.json (not a gap train run folder)")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    cfg = train_config_from_dict(info["train_config"])
    ckpt = checkpoint_path(run_dir, step) if step is not None else latest_checkpoint(run_dir)
    if ckpt is None or not ckpt.is_dir():
        raise ExportError(f"{run_dir}: no checkpoint to export" + (f" at step {step}" if step is not None else ""))
    model = Llama(cfg.model)
    load_model_weights(ckpt, model)
    tokenizer = Path(info["tokenizer_path"]) if info.get("tokenizer_path") else None
    if tokenizer is not None and not tokenizer.is_file():
        log.warning("tokenizer %s is gone; exporting without it", tokenizer)
        tokenizer = None
    return write_hf_export(model.state_dict(), cfg.model, out_dir, bos_id=info["bos_id"], eos_id=info["eos_id"],
                           tokenizer_path=tokenizer, dtype=dtype or info.get("export_dtype", "float32"))
