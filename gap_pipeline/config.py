"""Corpus configuration: one YAML file holding every threshold, the sources, mixture, tokenizer and shards.

The shipped `default.yaml` gives every key its default; the typed model declares every key once (type,
range or choices, and a line of documentation): a stage's section is declared with the stages
(transforms/settings.py: `QualitySettings`, `ExtractSettings`...; scrapers/settings.py: `ScrapeSection`)
and composed here into `CorpusConfig`; sections only the wiring reads (split, mixture, packing, shards,
outputs, report) are declared here. A user file overrides
any subset of the defaults; the merged result is checked in ONE pass before anything runs or is written:
an unknown key, a duplicated key, a value of the wrong type or out of range is rejected with a message
naming the key's path, e.g. `quality.min_mean_word_length: must be >= 0, got -3.0`.

`load_config` returns the frozen `CorpusConfig`: code reads `cfg.quality.min_words` and hands a stage its
section (`quality_fn(cfg.quality, ...)`); `cfg.to_dict()` is the plain mapping the manifest records.

Adding a key: one line in its section class (`name: type = F(ge=..., doc="...")`) and the key with a
comment in default.yaml. tests/gap_pipeline/test_config.py walks default.yaml and tries a wrong type and an
out-of-range value on every key, so a key without a declaration fails there.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from schemas.document import SUBSETS
from schemas.settings import F, Section, SettingsError, Subset, YamlFileError, merge, validate
from schemas.settings import load_yaml as _load_yaml
from scrapers.settings import ScrapeSection
from transforms.quality import threshold_problem
from transforms.settings import (CleanSettings, DecontaminationSettings, DedupSettings, ExtractSettings,
                                 LanguageSettings, QualitySettings, TokenizerSettings)


class ConfigError(SettingsError):
    """A config file is unreadable or holds an unknown key or bad value (the message names it)."""


# ---------------------------------------------------------------------------------------------- YAML

def load_yaml(text: str, where: str) -> Any:
    """Parse YAML with duplicate keys refused; the error names the file, line and key."""
    try:
        return _load_yaml(text, where)
    except YamlFileError as exc:
        raise ConfigError(str(exc)) from None


# ---------------------------------------------------------------------------------------------- model
# Sections only the pipeline's wiring reads; every stage's own section is declared beside the stage.

class Split(Section):
    validation_fraction: dict[Subset, Annotated[float, Field(ge=0.0, lt=1.0)]] = F(
        doc="fraction of each subset's documents held out for validation")


class Mixture(Section):
    mode: Literal["shares", "factors", "natural"] = F(doc="target token shares, sampling factors, or as found")
    by: Literal["subset", "source"] = F(doc="what shares and factors are keyed by")
    shares: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = F(doc="target share of train tokens (sum 1)")
    factors: dict[str, Annotated[float, Field(ge=0.0)]] = F(doc="sampling factor per subset or source")


class Packing(Section):
    seq_len: int = F(ge=8, doc="tokens per training row (+1 for the shifted label)")


class Shards(Section):
    target_bytes: int = F(ge=4096, doc="approximate size of one Arrow shard")


class Outputs(Section):
    target_bytes: int = F(ge=4096, doc="approximate size of one documents/dropped/quarantine file")


class Report(Section):
    plots: bool = F(doc="draw plots in the report")


class CorpusConfig(Section):
    """The whole corpus config: one class per section, every key declared once."""

    seed: int = F(ge=0, doc="seed of every hash-based choice")
    input: str = F(min_length=1, doc="raw store folder or URL; 'sample' = the embedded sample")
    specs_dir: str = F(doc="the corpus's own source specs beside the shipped ones ('' = none), relative to the config")
    sources: list[str] = F(doc="sources to build; [] = every source present")
    extract: ExtractSettings = F(doc="extraction")
    clean: CleanSettings = F(doc="cleaning")
    quality: QualitySettings = F(doc="quality filters")
    dedup: DedupSettings = F(doc="exact and near deduplication")
    language: LanguageSettings = F(doc="language identification")
    decontamination: DecontaminationSettings = F(doc="benchmark decontamination")
    split: Split = F(doc="train/validation split")
    mixture: Mixture = F(doc="mixture of subsets or sources")
    tokenizer: TokenizerSettings = F(doc="tokenizer")
    packing: Packing = F(doc="packing into rows")
    shards: Shards = F(doc="Arrow shards")
    outputs: Outputs = F(doc="documents, drop and quarantine files")
    report: Report = F(doc="report")
    scrape: ScrapeSection = F(doc="`gap scrape` politeness (not hashed)")

    @model_validator(mode="before")
    @classmethod
    def _language_seed(cls, data: Any) -> Any:
        """The language stage seeds langdetect with the corpus seed (not a key of its own: never dumped)."""
        if isinstance(data, dict) and "seed" in data:
            language = data.get("language")
            if isinstance(language, LanguageSettings):   # cfg.replace(seed=...): the section object is reused
                language = {name: getattr(language, name) for name in type(language).model_fields}
            if isinstance(language, dict):
                data = {**data, "language": {**language, "seed": data["seed"]}}
        return data


# ---------------------------------------------------------------------------------------------- checking

def default_config() -> dict[str, Any]:
    """The shipped defaults as a plain mapping (what user files are merged over)."""
    text = resources.files("gap_pipeline").joinpath("default.yaml").read_text(encoding="utf-8")
    return load_yaml(text, "gap_pipeline/default.yaml")


# Maps whose keys are free (subset or source names) rather than fixed by the model: replaced whole.
_FREE_MAPS = ("dedup.subset_priority", "split.validation_fraction", "mixture.shares", "mixture.factors",
              "quality.subsets")


def _merge_quality_subsets(default: dict[str, Any], value: Any) -> Any:
    """`quality.subsets`: a subset's thresholds merge over its defaults (the model checks the subset names)."""
    if not isinstance(value, dict):
        return value
    merged = copy.deepcopy(default)
    for subset, overrides in value.items():
        if isinstance(overrides, dict) and isinstance(merged.get(subset), dict):
            merged[subset] = {**merged[subset], **overrides}
        else:
            merged[subset] = overrides
    return merged


def _merged(user: Any) -> dict[str, Any]:
    defaults = default_config()
    if isinstance(user, dict) and isinstance(user.get("quality"), dict) and "subsets" in user["quality"]:
        user = {**user, "quality": {**user["quality"], "subsets": _merge_quality_subsets(
            defaults["quality"]["subsets"], user["quality"]["subsets"])}}
    return merge(defaults, user, replaced_whole=_FREE_MAPS, error=ConfigError)


def _cross_checks(cfg: CorpusConfig) -> None:
    """Rules that tie two keys together (each key's own type and range are the model's)."""
    def need(cond: bool, key: str, msg: str) -> None:
        if not cond:
            raise ConfigError(f"{key}: {msg}")

    q = cfg.quality
    for subset, thresholds in q.subsets.items():
        for key, value in (thresholds or {}).items():
            problem = threshold_problem(key, value)
            need(problem is None, f"quality.subsets.{subset}.{key}", problem or "")
    need(q.max_words > q.min_words, "quality.max_words", "must exceed quality.min_words")
    need(q.max_mean_word_length > q.min_mean_word_length, "quality.max_mean_word_length",
         "must exceed quality.min_mean_word_length")
    d = cfg.dedup
    need(d.bands * d.rows <= d.num_perm, "dedup.bands",
         f"bands x rows ({d.bands}x{d.rows}) must not exceed dedup.num_perm ({d.num_perm})")
    mix = cfg.mixture
    keyed = mix.by
    # By subset both maps name subsets; by source the map the mode uses names sources (the other is unused).
    in_use = {"shares": ("shares",), "factors": ("factors",)}.get(mix.mode, ()) if keyed == "source" \
        else ("shares", "factors")
    for name in in_use:
        for key, value in getattr(mix, name).items():
            where = f"mixture.{name}.{key}"
            if keyed == "subset":
                need(key in SUBSETS, where, f"unknown subset (known: {', '.join(SUBSETS)}); to give shares or "
                                            "factors per source set mixture.by: source")
            else:
                need(bool(key.strip()), where, "must be a source name")
                need(not cfg.sources or key in cfg.sources or value == 0, where,
                     f"not among the selected sources ({', '.join(cfg.sources)})")
    if mix.mode == "shares":
        need(bool(mix.shares), "mixture.shares", f"must name at least one {keyed}")
        need(math.isclose(sum(mix.shares.values()), 1.0, abs_tol=1e-6), "mixture.shares",
             f"must sum to 1, got {sum(mix.shares.values()):.6f}")
    if mix.mode == "factors":
        need(bool(mix.factors), "mixture.factors", f"must name at least one {keyed} when mode is 'factors'")
    tok = cfg.tokenizer
    need(tok.vocab_size >= (300 if tok.byte_fallback else 64), "tokenizer.vocab_size",
         "must be >= 300 with byte_fallback (256 byte pieces + specials), else >= 64")


_MISSING = "declared in the config model but missing from gap_pipeline/default.yaml (give it a default there)"


def validate_config(user: dict[str, Any] | None) -> CorpusConfig:
    """Merge a user mapping over the defaults and check every value (one pass, before anything runs)."""
    cfg = validate(CorpusConfig, _merged({} if user is None else user), error=ConfigError, missing=_MISSING)
    _cross_checks(cfg)
    return cfg


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> CorpusConfig:
    """Load and validate a config file (None: the shipped defaults); paths in it are relative to it."""
    user: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
        if p.is_dir():
            raise ConfigError(f"config file {p} is a folder, not a file")
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {p} is unreadable: {exc}") from exc
        loaded = load_yaml(text, str(p))
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {p} must hold a mapping at the top level")
        user = loaded
    if overrides:
        user = _deep_update(copy.deepcopy(user), overrides)
    cfg = validate_config(user)
    if path is not None:
        cfg = _resolve_paths(cfg, Path(path).resolve().parent)
    return cfg


def _resolve(value: str, base: Path) -> str:
    if "://" in value or Path(value).is_absolute():
        return value
    return str(base / value)


def _resolve_paths(cfg: CorpusConfig, base: Path) -> CorpusConfig:
    """Paths inside a config file are relative to that file, so a corpus folder can travel."""
    tok, bench = cfg.tokenizer, cfg.decontamination
    return cfg.replace(
        input=cfg.input if cfg.input == "sample" else _resolve(cfg.input, base),
        specs_dir=_resolve(cfg.specs_dir, base) if cfg.specs_dir else cfg.specs_dir,
        tokenizer=tok.replace(model=_resolve(tok.model, base)) if tok.model else tok,
        decontamination=bench.replace(benchmarks=[_resolve(b, base) for b in bench.benchmarks]))


def _deep_update(base: dict[str, Any], updates: dict[str, Any]) -> dict[str, Any]:
    for key, value in updates.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _deep_update(base[key], value)
        else:
            base[key] = value
    return base


# Sections that change how sources are fetched or reported, not what the corpus holds.
_NOT_HASHED = ("scrape", "report")


# Keys added after corpora were built: left out of the hash while null (their default), so an existing
# config keeps its hash.
_HASHED_ONLY_WHEN_SET = {"tokenizer": ("bos_token", "eos_token")}


def config_hash(cfg: CorpusConfig | dict[str, Any]) -> str:
    """A stable hash of the settings that shape the corpus, recorded in the manifest (`gap verify` hashes
    the mapping stored there as it stands)."""
    values = cfg.to_dict() if isinstance(cfg, Section) else cfg
    shaping = {k: v for k, v in values.items() if k not in _NOT_HASHED}
    for section, keys in _HASHED_ONLY_WHEN_SET.items():
        if section in shaping:
            shaping[section] = {k: v for k, v in shaping[section].items() if not (k in keys and v is None)}
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()
