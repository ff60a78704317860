"""Config: defaults load, overrides merge, every bad key or value is rejected naming the key."""
from __future__ import annotations

import pytest

from gap_pipeline.config import ConfigError, config_hash, default_config, load_config, validate_config


def test_defaults_are_valid_and_hash_is_stable():
    a = validate_config({})
    b = validate_config({})
    assert a == b == validate_config(default_config())
    assert config_hash(a) == config_hash(b)
    assert config_hash(validate_config({"seed": 7})) != config_hash(a)
    # Politeness settings change how pages are fetched, not the corpus.
    assert config_hash(validate_config({"scrape": {"rate_limit_per_s": 0.2}})) == config_hash(a)


def test_override_merges_one_key_and_keeps_the_rest():
    cfg = validate_config({"quality": {"min_words": 10}})
    assert cfg["quality"]["min_words"] == 10
    assert cfg["quality"]["max_symbol_ratio"] == default_config()["quality"]["max_symbol_ratio"]


@pytest.mark.parametrize("user, key", [
    ({"qualty": {}}, "qualty"),
    ({"quality": {"min_wrds": 3}}, "quality.min_wrds"),
    ({"quality": {"min_words": "many"}}, "quality.min_words"),
    ({"quality": {"max_symbol_ratio": 1.5}}, "quality.max_symbol_ratio"),
    ({"dedup": {"bands": 64, "rows": 4}}, "dedup.bands"),
    ({"dedup": {"exact": "yes"}}, "dedup.exact"),
    ({"mixture": {"shares": {"guidelines": 0.5, "papers": 0.4}}}, "mixture.shares"),
    ({"mixture": {"shares": {"guidelinez": 1.0}}}, "mixture.shares.guidelinez"),
    ({"mixture": {"mode": "random"}}, "mixture.mode"),
    ({"split": {"validation_fraction": {"papers": 1.2}}}, "split.validation_fraction.papers"),
    ({"packing": {"seq_len": 2}}, "packing.seq_len"),
    ({"tokenizer": {"model": 5}}, "tokenizer.model"),
    ({"scrape": {"rate_limit_per_s": 0.0}}, "scrape.rate_limit_per_s"),
    ({"scrape": {"retries": -1}}, "scrape.retries"),
    ({"scrape": {"request_deadline_s": 0}}, "scrape.request_deadline_s"),
    ({"scrape": {"request_deadline_s": "2m"}}, "scrape.request_deadline_s"),
    ({"scrape": {"source_budget_s": -5}}, "scrape.source_budget_s"),
    ({"extract": {"max_decompressed_bytes": 0}}, "extract.max_decompressed_bytes"),
    ([1, 2], "config"),
])
def test_bad_values_name_the_key(user, key):
    with pytest.raises(ConfigError) as err:
        validate_config(user)
    assert key in str(err.value)


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("quality: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("42\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(scalar)


def test_paths_resolve_relative_to_the_config_file(tmp_path):
    cfg_file = tmp_path / "sub" / "corpus.yaml"
    cfg_file.parent.mkdir()
    cfg_file.write_text("input: raw\ndecontamination:\n  benchmarks: [bench/medqa.jsonl]\ntokenizer:\n  model: tok.model\n")
    cfg = load_config(cfg_file)
    assert cfg["input"] == str(cfg_file.parent / "raw")
    assert cfg["decontamination"]["benchmarks"] == [str(cfg_file.parent / "bench" / "medqa.jsonl")]
    assert cfg["tokenizer"]["model"] == str(cfg_file.parent / "tok.model")
