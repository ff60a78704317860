"""Corpus configuration: one YAML file holding every threshold, the sources, mixture, tokenizer and shards.

The shipped `default.yaml` defines every key. A user file overrides any subset of it; an unknown key,
a value of the wrong type or an out-of-range value is rejected with a message naming the key.
"""
from __future__ import annotations

import copy
import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from schemas.document import SUBSETS


class ConfigError(ValueError):
    """A config file is unreadable or holds an unknown key or bad value (the message names it)."""


# Maps whose keys are free (subset names) rather than fixed by the default file.
_SUBSET_MAPS = {"dedup.subset_priority", "split.validation_fraction", "mixture.shares", "mixture.factors"}
# Mixture maps are keyed by subsets or by sources (mixture.by): their keys are checked in _check_ranges.
_MIXTURE_MAPS = {"mixture.shares", "mixture.factors"}
_NULLABLE = {"tokenizer.model"}
_CHOICES = {
    "extract.citations": ("tag", "remove"),
    "extract.tables": ("linearize", "caption", "drop"),
    "extract.pdf_isolation": ("process", "inline"),
    "mixture.mode": ("shares", "factors", "natural"),
    "tokenizer.model_type": ("bpe", "unigram"),
}


def default_config() -> dict[str, Any]:
    text = resources.files("gap_pipeline").joinpath("default.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def _merge(base: dict[str, Any], override: Any, path: str) -> dict[str, Any]:
    if not isinstance(override, dict):
        raise ConfigError(f"{path or 'config'}: expected a mapping, got {_type_name(override)}")
    merged = copy.deepcopy(base)
    for key, value in override.items():
        full = f"{path}.{key}" if path else str(key)
        if key not in base:
            known = ", ".join(sorted(base))
            raise ConfigError(f"unknown config key {full!r} (known keys here: {known})")
        default = base[key]
        if full in _SUBSET_MAPS:
            if not isinstance(value, dict):
                raise ConfigError(f"{full}: expected a mapping of subset -> number, got {_type_name(value)}")
            for subset, number in value.items():
                if full not in _MIXTURE_MAPS and subset not in SUBSETS:
                    raise ConfigError(f"{full}.{subset}: unknown subset (known: {', '.join(SUBSETS)})")
                if isinstance(number, bool) or not isinstance(number, (int, float)):
                    raise ConfigError(f"{full}.{subset}: expected a number, got {number!r}")
            merged[key] = dict(value)
        elif isinstance(default, dict):
            merged[key] = _merge(default, value, full)
        elif value is None and full in _NULLABLE:
            merged[key] = None
        elif full in _NULLABLE:
            if not isinstance(value, str):
                raise ConfigError(f"{full}: expected a path string or null, got {value!r}")
            merged[key] = value
        else:
            if isinstance(default, bool) != isinstance(value, bool):
                raise ConfigError(f"{full}: expected {_type_name(default)}, got {value!r}")
            if isinstance(default, float) and isinstance(value, int):
                value = float(value)
            if not isinstance(value, type(default)):
                raise ConfigError(f"{full}: expected {_type_name(default)}, got {value!r}")
            merged[key] = value
    return merged


def _check_ranges(cfg: dict[str, Any]) -> None:
    def need(cond: bool, key: str, msg: str) -> None:
        if not cond:
            raise ConfigError(f"{key}: {msg}")

    for key, choices in _CHOICES.items():
        section, name = key.split(".")
        need(cfg[section][name] in choices, key, f"must be one of {choices}, got {cfg[section][name]!r}")
    need(all(isinstance(s, str) for s in cfg["sources"]), "sources", "must be a list of source names")
    for k in ("max_content_bytes", "max_decompressed_bytes", "pdf_max_pages", "pdf_timeout_s", "pdf_max_text_chars"):
        need(cfg["extract"][k] > 0, f"extract.{k}", "must be > 0")
    q = cfg["quality"]
    need(q["min_words"] >= 0, "quality.min_words", "must be >= 0")
    need(q["max_words"] > q["min_words"], "quality.max_words", "must exceed quality.min_words")
    for k in ("max_symbol_ratio", "max_digit_ratio", "max_bullet_line_ratio", "max_duplicate_line_fraction",
              "max_top_ngram_fraction", "max_dup_ngram_fraction", "min_alpha_word_fraction"):
        need(0.0 <= q[k] <= 1.0, f"quality.{k}", "must be between 0 and 1")
    d = cfg["dedup"]
    need(d["shingle_size"] >= 1, "dedup.shingle_size", "must be >= 1")
    need(d["bands"] >= 1 and d["rows"] >= 1, "dedup.bands", "bands and rows must be >= 1")
    need(d["bands"] * d["rows"] <= d["num_perm"], "dedup.bands",
         f"bands x rows ({d['bands']}x{d['rows']}) must not exceed dedup.num_perm ({d['num_perm']})")
    need(0.0 < d["threshold"] <= 1.0, "dedup.threshold", "must be in (0, 1]")
    need(d["verify_hashes"] >= 0, "dedup.verify_hashes", "must be >= 0 (0: check pairs on the signature estimate)")
    lang = cfg["language"]
    need(0.0 <= lang["min_prob"] <= 1.0, "language.min_prob", "must be between 0 and 1")
    need(lang["window_chars"] > 0 and lang["max_windows"] > 0, "language.window_chars", "windows must be positive")
    need(lang["trials"] >= 1, "language.trials", "must be >= 1")
    need(cfg["decontamination"]["ngram"] >= 1, "decontamination.ngram", "must be >= 1")
    for subset, frac in cfg["split"]["validation_fraction"].items():
        need(0.0 <= frac < 1.0, f"split.validation_fraction.{subset}", "must be in [0, 1)")
    mix = cfg["mixture"]
    need(mix["by"] in ("subset", "source"), "mixture.by", f"must be one of ('subset', 'source'), got {mix['by']!r}")
    keyed = mix["by"]
    # By subset both maps name subsets; by source the map the mode uses names sources (the other is unused).
    in_use = {"shares": ("shares",), "factors": ("factors",)}.get(mix["mode"], ()) if keyed == "source" \
        else ("shares", "factors")
    for name in in_use:
        for key, value in mix[name].items():
            where = f"mixture.{name}.{key}"
            if keyed == "subset":
                need(key in SUBSETS, where, f"unknown subset (known: {', '.join(SUBSETS)}); to give shares or "
                                            "factors per source set mixture.by: source")
            else:
                need(isinstance(key, str) and bool(key.strip()), where, "must be a source name")
                need(not cfg["sources"] or key in cfg["sources"] or value == 0, where,
                     f"not among the selected sources ({', '.join(cfg['sources'])})")
    if mix["mode"] == "shares":
        shares = mix["shares"]
        need(bool(shares), "mixture.shares", f"must name at least one {keyed}")
        need(all(v >= 0 for v in shares.values()), "mixture.shares", "shares must be >= 0")
        need(abs(sum(shares.values()) - 1.0) < 1e-6, "mixture.shares",
             f"must sum to 1, got {sum(shares.values()):.6f}")
    if mix["mode"] == "factors":
        need(bool(mix["factors"]), "mixture.factors", f"must name at least one {keyed} when mode is 'factors'")
        need(all(v >= 0 for v in mix["factors"].values()), "mixture.factors", "factors must be >= 0")
    tok = cfg["tokenizer"]
    need(tok["vocab_size"] >= (300 if tok["byte_fallback"] else 64), "tokenizer.vocab_size",
         "must be >= 300 with byte_fallback (256 byte pieces + specials), else >= 64")
    need(tok["max_sentence_length"] >= 256, "tokenizer.max_sentence_length", "must be >= 256")
    pack = cfg["packing"]
    need(pack["seq_len"] >= 8, "packing.seq_len", "must be >= 8")
    need(pack["buckets"] >= 1, "packing.buckets", "must be >= 1")
    need(cfg["shards"]["target_bytes"] >= 4096, "shards.target_bytes", "must be >= 4096")
    sc = cfg["scrape"]
    for k in ("rate_limit_per_s", "connect_timeout_s", "read_timeout_s", "request_deadline_s", "max_body_bytes", "jobs"):
        need(sc[k] > 0, f"scrape.{k}", "must be > 0")
    for k in ("retries", "backoff_factor_s", "max_retry_after_s", "max_redirects", "recrawl_after_days",
              "source_budget_s"):
        need(sc[k] >= 0, f"scrape.{k}", "must be >= 0")


def validate_config(user: dict[str, Any] | None) -> dict[str, Any]:
    """Merge a user mapping over the defaults and check every value."""
    cfg = _merge(default_config(), user or {}, "")
    _check_ranges(cfg)
    return cfg


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load and validate a config file (None: the shipped defaults)."""
    user: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {p} is not valid YAML: {exc}") from exc
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {p} must hold a mapping at the top level")
        user = loaded
    if overrides:
        user = _deep_update(copy.deepcopy(user), overrides)
    cfg = validate_config(user)
    if path is not None:
        _resolve_paths(cfg, Path(path).resolve().parent)
    return cfg


def _resolve(value: str, base: Path) -> str:
    if "://" in value or Path(value).is_absolute():
        return value
    return str(base / value)


def _resolve_paths(cfg: dict[str, Any], base: Path) -> None:
    """Paths inside a config file are relative to that file, so a corpus folder can travel."""
    if cfg["input"] != "sample":
        cfg["input"] = _resolve(cfg["input"], base)
    if cfg["tokenizer"]["model"]:
        cfg["tokenizer"]["model"] = _resolve(cfg["tokenizer"]["model"], base)
    cfg["decontamination"]["benchmarks"] = [_resolve(b, base) for b in cfg["decontamination"]["benchmarks"]]


def _deep_update(base: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = value
    return base


# Sections that change how sources are fetched or reported, not what the corpus holds.
_NOT_HASHED = ("scrape", "report")


def config_hash(cfg: dict[str, Any]) -> str:
    """A stable hash of the settings that shape the corpus, recorded in the manifest."""
    shaping = {k: v for k, v in cfg.items() if k not in _NOT_HASHED}
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()
