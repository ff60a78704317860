"""Corpus configuration: one YAML file holding every threshold, the sources, mixture, tokenizer and shards.

The shipped `default.yaml` gives every key its default; the typed model below declares every key once
(type, range or choices, and a line of documentation). A user file overrides any subset of the defaults;
the merged result is checked in ONE pass before anything runs or is written: an unknown key, a duplicated
key, a value of the wrong type or out of range is rejected with a message naming the key's path, e.g.
`quality.min_mean_word_length: must be >= 0, got -3.0`.

Adding a key: one line in its section class here (`name: type = F(ge=..., doc="...")`) and the key with
a comment in default.yaml. tests/pipeline/test_config.py walks default.yaml and tries a wrong type and an
out-of-range value on every key, so a key without a declaration fails there.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gap_pipeline import yamlfile
from schemas.document import SUBSETS


class ConfigError(ValueError):
    """A config file is unreadable or holds an unknown key or bad value (the message names it)."""


# ---------------------------------------------------------------------------------------------- YAML

def load_yaml(text: str, where: str) -> Any:
    """Parse YAML with duplicate keys refused; the error names the file, line and key."""
    try:
        return yamlfile.load_yaml(text, where)
    except yamlfile.YamlFileError as exc:
        raise ConfigError(str(exc)) from None


# ---------------------------------------------------------------------------------------------- model

def F(*, doc: str, **constraints: Any) -> Any:
    """One key's declaration: its documentation plus pydantic constraints (ge, gt, le, lt, min_length)."""
    return Field(description=doc, **constraints)


Subset = Literal[tuple(SUBSETS)]  # type: ignore[valid-type]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class Section(BaseModel):
    # strict: no "5" for 5, no true for 1 (an int is still accepted where a float is meant: 120 seconds).
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


class Extract(Section):
    citations: Literal["tag", "remove"] = F(doc="[BIB_REF] tags around citations, or remove them")
    tables: Literal["linearize", "caption", "drop"] = F(doc="how tables become text")
    max_content_bytes: int = F(gt=0, doc="larger raw records are quarantined")
    max_decompressed_bytes: int = F(gt=0, doc="gzip content may expand to at most this many bytes")
    pdf_max_pages: int = F(gt=0, doc="pages read per PDF")
    pdf_timeout_s: float = F(gt=0, doc="hard limit in seconds per PDF")
    pdf_isolation: Literal["process", "inline"] = F(doc="run pdfminer in a killable child process or inline")
    pdf_max_text_chars: int = F(gt=0, doc="characters kept per PDF")


class Clean(Section):
    boilerplate_min_docs: int = F(ge=1, doc="a line in at least this many documents of a source...")
    boilerplate_min_fraction: float = F(gt=0.0, le=1.0, doc="...and in this fraction of them is boilerplate")
    remove_urls: bool = F(doc="strip bare URLs from the text")


class Quality(Section):
    min_words: int = F(ge=0, doc="fewer words: dropped as too_short")
    max_words: int = F(ge=1, doc="more words: dropped as too_long")
    min_mean_word_length: float = F(ge=0.0, doc="mean word length below this: dropped")
    max_mean_word_length: float = F(gt=0.0, doc="mean word length above this: dropped")
    max_symbol_ratio: Fraction = F(doc="symbols (#, ...) per word")
    max_digit_ratio: Fraction = F(doc="digits per character")
    max_garbled_ratio: Fraction = F(doc="mojibake sequences, U+FFFD and control characters per word")
    min_prose_words: int = F(ge=0, doc="words in running prose (sentences)")
    max_bullet_line_ratio: Fraction = F(doc="lines starting with a bullet")
    max_duplicate_line_fraction: Fraction = F(doc="duplicated lines")
    max_top_ngram_fraction: Fraction = F(doc="Gopher: top 2/3/4-gram character fraction")
    max_dup_ngram_fraction: Fraction = F(doc="Gopher: duplicated 5..10-gram character fraction")
    min_alpha_word_fraction: Fraction = F(doc="words holding a letter")
    subsets: dict[Subset, Optional[dict[str, Any]]] = F(
        doc="per subset, any of the thresholds above (null disables a check for that subset)")


class Dedup(Section):
    exact: bool = F(doc="drop exact duplicates (normalised text hash)")
    near: bool = F(doc="drop near duplicates (MinHash LSH)")
    shingle_size: int = F(ge=1, doc="words per shingle")
    num_perm: int = F(ge=1, doc="MinHash permutations")
    bands: int = F(ge=1, doc="LSH bands (bands x rows <= num_perm)")
    rows: int = F(ge=1, doc="rows per LSH band")
    threshold: float = F(gt=0.0, le=1.0, doc="shingle Jaccard at which a candidate is a duplicate")
    verify_hashes: int = F(ge=0, doc="shingle hashes kept per document to check pairs (0: signature estimate)")
    hash_seed: int = F(ge=0, doc="seed of the MinHash permutations")
    subset_priority: dict[Subset, Annotated[int, Field(ge=0)]] = F(doc="survivor order among duplicates: lower rank wins")


class Language(Section):
    allowed: list[str] = F(min_length=1, doc="language codes kept")
    min_prob: Fraction = F(doc="per window: a lower langdetect probability counts as 'und'")
    min_share: float = F(gt=0.0, le=1.0, doc="share of letters in allowed languages needed to keep a document")
    min_common_words: Fraction = F(doc="per Latin/Cyrillic window: share of that language's common words needed")
    window_chars: int = F(ge=1, doc="characters per judged window")
    max_windows: int = F(ge=1, doc="windows judged per document")
    trials: int = F(ge=1, doc="random walks per window")
    short_text_chars: int = F(ge=0, doc="fewer letters: too short to judge")
    allow_short: bool = F(doc="keep too-short texts as 'und' instead of dropping them")


class Decontamination(Section):
    benchmarks: list[str] = F(doc="JSONL files of benchmark questions")
    ngram: int = F(ge=1, doc="words per n-gram matched against the benchmarks")


class Split(Section):
    validation_fraction: dict[Subset, Annotated[float, Field(ge=0.0, lt=1.0)]] = F(
        doc="fraction of each subset's documents held out for validation")


class Mixture(Section):
    mode: Literal["shares", "factors", "natural"] = F(doc="target token shares, sampling factors, or as found")
    by: Literal["subset", "source"] = F(doc="what shares and factors are keyed by")
    shares: dict[str, Annotated[float, Field(ge=0.0, le=1.0)]] = F(doc="target share of train tokens (sum 1)")
    factors: dict[str, Annotated[float, Field(ge=0.0)]] = F(doc="sampling factor per subset or source")


class Tokenizer(Section):
    model: Optional[str] = F(min_length=1, doc="a sentencepiece .model or Hugging Face tokenizer.json to use; null: train one")
    bos_token: Optional[str] = F(min_length=1, doc="BOS token of a tokenizer.json (null: from its template or well-known names)")
    eos_token: Optional[str] = F(min_length=1, doc="EOS token of a tokenizer.json (null: from its template or well-known names)")
    vocab_size: int = F(ge=64, doc="pieces (>= 300 with byte_fallback)")
    model_type: Literal["bpe", "unigram"] = F(doc="sentencepiece model type")
    character_coverage: float = F(gt=0.0, le=1.0, doc="share of characters covered by pieces")
    byte_fallback: bool = F(doc="unknown characters as byte pieces")
    max_sentence_length: int = F(ge=256, doc="longest training line in bytes")
    train_max_chars: int = F(ge=1, doc="characters sampled to train the tokenizer")


class Packing(Section):
    seq_len: int = F(ge=8, doc="tokens per training row (+1 for the shifted label)")


class Shards(Section):
    target_bytes: int = F(ge=4096, doc="approximate size of one Arrow shard")


class Outputs(Section):
    target_bytes: int = F(ge=4096, doc="approximate size of one documents/dropped/quarantine file")


class Report(Section):
    plots: bool = F(doc="draw plots in the report")


class Bulk(Section):
    pmc_base_url: str = F(min_length=1, doc="PMC OA bulk packages")
    pmc_groups: list[Literal["oa_comm", "oa_noncomm", "oa_other"]] = F(doc="PMC licence groups")
    pubmed_base_url: str = F(min_length=1, doc="PubMed baseline and update files")
    pubmed_folders: list[Literal["baseline", "updatefiles"]] = F(doc="PubMed folders read")
    cache_dir: str = F(doc="downloads and incremental state; '' = <out>/_bulk/<source>")
    keep_downloads: bool = F(doc="keep packages after their records are stored")
    max_member_bytes: int = F(gt=0, doc="larger tar members are refused")
    replay_paths: list[str] = F(doc="fsspec paths/globs of general-domain text")
    replay_token_budget: int = F(ge=0, doc="estimated tokens of replay to sample")
    replay_seed: int = F(ge=0, doc="seed of the replay sample")
    replay_text_field: str = F(min_length=1, doc="text field of replay records")
    replay_id_field: str = F(min_length=1, doc="id field of replay records")
    replay_chars_per_token: float = F(gt=0.0, doc="characters per token when estimating the budget")


class Scrape(Section):
    contact_url: str = F(min_length=1, doc="who you are, put in the User-Agent")
    rate_limit_per_s: float = F(gt=0.0, doc="requests per second per host")
    connect_timeout_s: float = F(gt=0.0, doc="seconds to connect")
    read_timeout_s: float = F(gt=0.0, doc="seconds to wait for each read")
    request_deadline_s: float = F(gt=0.0, doc="seconds for a whole request: connect, retries and all reads")
    source_budget_s: float = F(ge=0.0, doc="seconds per crawled source (0 = no limit); a re-run resumes")
    retries: int = F(ge=0, doc="retries on 429/5xx/connection errors")
    backoff_factor_s: float = F(ge=0.0, doc="exponential backoff base")
    max_retry_after_s: float = F(ge=0.0, doc="longest Retry-After honoured")
    max_body_bytes: int = F(gt=0, doc="larger responses are refused")
    max_redirects: int = F(ge=0, doc="redirects followed")
    recrawl_after_days: float = F(ge=0.0, doc="stored pages younger than this are not refetched")
    jobs: int = F(ge=1, doc="sources crawled in parallel")
    bulk: Bulk = F(doc="bulk sources (pmc, pubmed, replay)")


class CorpusConfig(Section):
    """The whole corpus config: one class per section, every key declared once."""

    seed: int = F(ge=0, doc="seed of every hash-based choice")
    input: str = F(min_length=1, doc="raw store folder or URL; 'sample' = the embedded sample")
    specs_dir: str = F(doc="the corpus's own source specs beside the shipped ones ('' = none), relative to the config")
    sources: list[str] = F(doc="sources to build; [] = every source present")
    extract: Extract = F(doc="extraction")
    clean: Clean = F(doc="cleaning")
    quality: Quality = F(doc="quality filters")
    dedup: Dedup = F(doc="exact and near deduplication")
    language: Language = F(doc="language identification")
    decontamination: Decontamination = F(doc="benchmark decontamination")
    split: Split = F(doc="train/validation split")
    mixture: Mixture = F(doc="mixture of subsets or sources")
    tokenizer: Tokenizer = F(doc="tokenizer")
    packing: Packing = F(doc="packing into rows")
    shards: Shards = F(doc="Arrow shards")
    outputs: Outputs = F(doc="documents, drop and quarantine files")
    report: Report = F(doc="report")
    scrape: Scrape = F(doc="`gap scrape` politeness (not hashed)")


# ---------------------------------------------------------------------------------------------- checking

def default_config() -> dict[str, Any]:
    text = resources.files("gap_pipeline").joinpath("default.yaml").read_text(encoding="utf-8")
    return load_yaml(text, "gap_pipeline/default.yaml")


def _type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a mapping", type(None): "null"}.get(type(value), type(value).__name__)


_EXPECTED = {"int_type": "an integer", "float_type": "a number", "string_type": "a string", "bool_type": "a boolean",
             "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping",
             "model_attributes_type": "a mapping", "int_from_float": "an integer", "finite_number": "a finite number"}
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def _error_line(err: dict[str, Any]) -> tuple[str, str]:
    """(key path, message) for one pydantic error, in the config's own words."""
    loc = [str(p) for p in err["loc"]]
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if loc and loc[-1] == "[key]":      # a map key outside its choices, e.g. an unknown subset
        path = ".".join(loc[:-1])
        return path, f"unknown key (known: {ctx.get('expected', '')})"
    path = ".".join(loc) or "config"
    if kind == "extra_forbidden":
        return path, "unknown config key"
    if kind == "missing":
        return path, "declared in gap_pipeline/config.py but missing from gap_pipeline/default.yaml (give it a default there)"
    if kind in _EXPECTED:
        return path, f"expected {_EXPECTED[kind]}, got {value!r}"
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        return path, f"must be {_BOUNDS[kind]} {bound}, got {value!r}"
    if kind == "literal_error" and not isinstance(value, str):
        return path, f"expected one of {ctx.get('expected')}, got {value!r}"
    if kind == "literal_error":
        return path, f"must be one of {ctx.get('expected')}, got {value!r}"
    if kind in ("too_short", "string_too_short"):
        return path, f"must not be empty, got {value!r}"
    return path, f"{err['msg']}, got {value!r}"


def _check_model(merged: dict[str, Any]) -> dict[str, Any]:
    try:
        model = CorpusConfig.model_validate(merged)
    except ValidationError as exc:
        lines = [_error_line(e) for e in exc.errors()]
        path, msg = lines[0]
        if msg == "unknown config key":
            raise ConfigError(f"unknown config key {path!r} (known keys here: {', '.join(_known(path))})") from None
        more = f" (and {len(lines) - 1} more problem(s))" if len(lines) > 1 else ""
        raise ConfigError(f"{path}: {msg}{more}") from None
    return model.model_dump()


def _known(path: str) -> list[str]:
    cls: Any = CorpusConfig
    for part in path.split(".")[:-1]:
        info = cls.model_fields.get(part) if isinstance(cls, type) and issubclass(cls, BaseModel) else None
        if info is None or not (isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)):
            return []
        cls = info.annotation
    return sorted(cls.model_fields)


def _merge(base: Any, override: Any, path: str) -> Any:
    """User values over the defaults, key by key; a user mapping replaces a free-keyed default map
    (subset priorities, shares) whole. Types and ranges are checked afterwards, in one pass."""
    if not isinstance(override, dict):
        if not path:
            raise ConfigError(f"config: expected a mapping, got {_type_name(override)}")
        return override
    if not isinstance(base, dict):
        return override
    merged = copy.deepcopy(base)
    for key, value in override.items():
        full = f"{path}.{key}" if path else str(key)
        if key not in base and full in _REPLACED:
            raise ConfigError(_REPLACED[full])
        if key not in base:
            known = ", ".join(sorted(map(str, base)))
            raise ConfigError(f"unknown config key {full!r} (known keys here: {known})")
        if full in _REPLACED:
            raise ConfigError(_REPLACED[full])
        if full == "quality.subsets":
            merged[key] = _merge_quality_subsets(base[key], value)
        elif full in _FREE_MAPS:
            merged[key] = value
        else:
            merged[key] = _merge(base[key], value, full)
    return merged


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


# Keys that were replaced: a config still naming one is told what to use instead.
_REPLACED: dict[str, str] = {}

# Maps whose keys are free (subset or source names) rather than fixed by the model: replaced whole.
_FREE_MAPS = {"dedup.subset_priority", "split.validation_fraction", "mixture.shares", "mixture.factors"}


def _cross_checks(cfg: dict[str, Any]) -> None:
    """Rules that tie two keys together (each key's own type and range are the model's)."""
    def need(cond: bool, key: str, msg: str) -> None:
        if not cond:
            raise ConfigError(f"{key}: {msg}")

    from transforms.quality import threshold_problem
    q = cfg["quality"]
    for subset, thresholds in q["subsets"].items():
        for key, value in (thresholds or {}).items():
            problem = threshold_problem(key, value)
            need(problem is None, f"quality.subsets.{subset}.{key}", problem or "")
    need(q["max_words"] > q["min_words"], "quality.max_words", "must exceed quality.min_words")
    need(q["max_mean_word_length"] > q["min_mean_word_length"], "quality.max_mean_word_length",
         "must exceed quality.min_mean_word_length")
    d = cfg["dedup"]
    need(d["bands"] * d["rows"] <= d["num_perm"], "dedup.bands",
         f"bands x rows ({d['bands']}x{d['rows']}) must not exceed dedup.num_perm ({d['num_perm']})")
    mix = cfg["mixture"]
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
                need(bool(key.strip()), where, "must be a source name")
                need(not cfg["sources"] or key in cfg["sources"] or value == 0, where,
                     f"not among the selected sources ({', '.join(cfg['sources'])})")
    if mix["mode"] == "shares":
        shares = mix["shares"]
        need(bool(shares), "mixture.shares", f"must name at least one {keyed}")
        need(math.isclose(sum(shares.values()), 1.0, abs_tol=1e-6), "mixture.shares",
             f"must sum to 1, got {sum(shares.values()):.6f}")
    if mix["mode"] == "factors":
        need(bool(mix["factors"]), "mixture.factors", f"must name at least one {keyed} when mode is 'factors'")
    tok = cfg["tokenizer"]
    need(tok["vocab_size"] >= (300 if tok["byte_fallback"] else 64), "tokenizer.vocab_size",
         "must be >= 300 with byte_fallback (256 byte pieces + specials), else >= 64")


def validate_config(user: dict[str, Any] | None) -> dict[str, Any]:
    """Merge a user mapping over the defaults and check every value (one pass, before anything runs)."""
    cfg = _check_model(_merge(default_config(), {} if user is None else user, ""))
    _cross_checks(cfg)
    return cfg


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load and validate a config file (None: the shipped defaults)."""
    user: dict[str, Any] = {}
    if path is not None:
        p = Path(path)
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
    if cfg["specs_dir"]:
        cfg["specs_dir"] = _resolve(cfg["specs_dir"], base)
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


# Keys added after corpora were built: left out of the hash while null (their default), so an existing
# config keeps its hash.
_HASHED_ONLY_WHEN_SET = {"tokenizer": ("bos_token", "eos_token")}


# Keys added after corpora were built: left out of the hash while unset, so an existing config keeps its hash.
_HASHED_ONLY_WHEN_SET = {"tokenizer": ("bos_token", "eos_token")}


def config_hash(cfg: dict[str, Any]) -> str:
    """A stable hash of the settings that shape the corpus, recorded in the manifest."""
    shaping = {k: v for k, v in cfg.items() if k not in _NOT_HASHED}
    for section, keys in _HASHED_ONLY_WHEN_SET.items():
        if section in shaping:
            shaping[section] = {k: v for k, v in shaping[section].items() if not (k in keys and v is None)}
    for section, keys in _HASHED_ONLY_WHEN_SET.items():
        if section in shaping:
            shaping[section] = {k: v for k, v in shaping[section].items() if not (k in keys and v is None)}
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()
