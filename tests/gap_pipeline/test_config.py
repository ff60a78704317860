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
    assert cfg.quality.min_words == 10
    assert cfg.quality.max_symbol_ratio == default_config()["quality"]["max_symbol_ratio"]


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
    ({"packing": {"bucket_tokens": 65536}}, "packing.bucket_tokens"),
    ({"packing": {"buckets": 16}}, "packing.buckets"),
    ({"outputs": {"target_bytes": 10}}, "outputs.target_bytes"),
    ({"tokenizer": {"model": 5}}, "tokenizer.model"),
    ({"scrape": {"rate_limit_per_s": 0.0}}, "scrape.rate_limit_per_s"),
    ({"scrape": {"retries": -1}}, "scrape.retries"),
    ({"language": {"min_share": 0}}, "language.min_share"),
    ({"language": {"min_share": 1.5}}, "language.min_share"),
    ({"language": {"min_share": "half"}}, "language.min_share"),
    ({"language": {"min_common_words": -0.1}}, "language.min_common_words"),
    ({"scrape": {"request_deadline_s": 0}}, "scrape.request_deadline_s"),
    ({"scrape": {"request_deadline_s": "2m"}}, "scrape.request_deadline_s"),
    ({"scrape": {"source_budget_s": -5}}, "scrape.source_budget_s"),
    ({"extract": {"max_decompressed_bytes": 0}}, "extract.max_decompressed_bytes"),
    ([1, 2], "config"),
    ({"quality": {"subsets": {"blogs": {}}}}, "quality.subsets.blogs"),
    ({"quality": {"subsets": {"papers": {"max_dup_ngram_fraction": 1.2}}}}, "quality.subsets.papers.max_dup_ngram_fraction"),
    ({"quality": {"subsets": {"papers": {"min_wrds": 3}}}}, "quality.subsets.papers.min_wrds"),
    ({"quality": {"subsets": {"papers": {"min_words": 2.5}}}}, "quality.subsets.papers.min_words"),
    ({"quality": {"subsets": {"papers": [1]}}}, "quality.subsets.papers"),
    ({"quality": {"subsets": 3}}, "quality.subsets"),
    ({"quality": {"max_garbled_ratio": 2.0}}, "quality.max_garbled_ratio"),
    ({"quality": {"min_prose_words": -1}}, "quality.min_prose_words"),
    ({"specs_dir": 7}, "specs_dir"),
])
def test_bad_values_name_the_key(user, key):
    with pytest.raises(ConfigError) as err:
        validate_config(user)
    assert key in str(err.value)


def test_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "folder.yaml").mkdir()
    with pytest.raises(ConfigError, match="folder.yaml is a folder, not a file"):  # not "not found"
        load_config(tmp_path / "folder.yaml")
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
    cfg_file.write_text("input: raw\nspecs_dir: sources\ndecontamination:\n  benchmarks: [bench/medqa.jsonl]\n"
                        "tokenizer:\n  model: tok.model\n")
    cfg = load_config(cfg_file)
    assert cfg.input == str(cfg_file.parent / "raw")
    assert cfg.specs_dir == str(cfg_file.parent / "sources")
    assert cfg.decontamination.benchmarks == [str(cfg_file.parent / "bench" / "medqa.jsonl")]
    assert cfg.tokenizer.model == str(cfg_file.parent / "tok.model")


# ------------------------------------------------------------------------- every key of default.yaml

def _leaves(node, path=()):
    """(path, default) for every leaf of default.yaml; free-keyed maps (subset -> number) are leaves."""
    from pydantic import BaseModel

    from gap_pipeline.config import CorpusConfig
    cls = CorpusConfig
    for part in path:
        cls = cls.model_fields[part].annotation
    for key, value in node.items():
        info = cls.model_fields.get(key)
        if info is None:
            pytest.fail(f"default.yaml key {'.'.join(path + (key,))} has no declaration in gap_pipeline/config.py "
                        f"(add `{key}: <type> = F(..., doc=...)` to class {cls.__name__})")
        if isinstance(value, dict) and isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            yield from _leaves(value, path + (key,))
        else:
            yield path + (key,), value, info


def _nest(path, value):
    for part in reversed(path):
        value = {part: value}
    return value


def _wrong_type(default, info):
    if isinstance(default, bool):
        return "yes"
    if isinstance(default, (int, float)):
        return "12"
    if isinstance(default, str) or default is None:
        return 5
    if isinstance(default, list):
        return "not-a-list"
    return ["not", "a", "mapping"]


def _out_of_range(default, info):
    """A value just outside the declared range or choices, or None when the key has neither."""
    import typing

    import annotated_types as at
    args = typing.get_args(info.annotation)
    if typing.get_origin(info.annotation) is typing.Literal:
        return "no-such-choice"
    if typing.get_origin(info.annotation) is list and args and typing.get_origin(args[0]) is typing.Literal:
        return ["no-such-choice"]
    if typing.get_origin(info.annotation) is dict:   # a map: one entry with a value out of range
        value_meta = getattr(typing.get_args(args[1])[1], "metadata", []) if typing.get_args(args[1]) else []
        key = next(iter(default), "guidelines")
        bad = _bound_violation(value_meta)
        return None if bad is None else {key: bad}
    metadata = list(info.metadata)
    metadata += [m for a in args for m in getattr(a, "__metadata__", [])]
    if any(isinstance(m, at.MinLen) for m in metadata):
        return [] if isinstance(default, list) else ""
    bad = _bound_violation(metadata)
    if bad is not None and isinstance(default, int) and not isinstance(default, bool) and bad == int(bad):
        bad = int(bad)
    return bad


def _bound_violation(metadata):
    import annotated_types as at
    for m in metadata:
        if isinstance(m, at.Ge):
            return m.ge - 1
        if isinstance(m, at.Gt):
            return m.gt - 0.5 if isinstance(m.gt, float) else m.gt - 1
    for m in metadata:
        if isinstance(m, (at.Le, at.Lt)):
            return (m.le if isinstance(m, at.Le) else m.lt) + 1
        if isinstance(m, at.Interval):
            return (m.ge if m.ge is not None else m.gt) - 1
    return None


DEFAULT_LEAVES = list(_leaves(default_config()))


def test_every_default_key_is_declared_and_the_defaults_validate():
    assert len(DEFAULT_LEAVES) > 80
    cfg = validate_config(default_config())
    for path, default, _ in DEFAULT_LEAVES:
        value = cfg
        for part in path:
            value = getattr(value, part)
        assert value == default, ".".join(path)


@pytest.mark.parametrize("path, default, info", DEFAULT_LEAVES, ids=[".".join(p) for p, _, _ in DEFAULT_LEAVES])
def test_every_key_refuses_a_wrong_type_and_an_out_of_range_value(path, default, info):
    key = ".".join(path)
    with pytest.raises(ConfigError) as err:
        validate_config(_nest(path, _wrong_type(default, info)))
    assert str(err.value).startswith(key), str(err.value)
    assert "expected" in str(err.value)
    bad = _out_of_range(default, info)
    if key == "quality.subsets":  # its thresholds are ranged one by one: test_quality_subset_thresholds_are_ranged
        return
    if bad is None:
        # No range: only unbounded integers (seeds), free strings and string lists may lack one.
        assert isinstance(default, (bool, str, list)) or path[-1].endswith("seed") or default is None, \
            f"{key} declares no range: add ge/gt/le/lt (or choices) to its declaration"
        return
    with pytest.raises(ConfigError) as err:
        validate_config(_nest(path, bad))
    assert str(err.value).startswith(key), str(err.value)
    assert "expected" not in str(err.value), str(err.value)


@pytest.mark.parametrize("user, message", [
    ({"clean": {"boilerplate_min_docs": -1}}, "clean.boilerplate_min_docs: must be >= 1, got -1"),
    ({"tokenizer": {"train_max_chars": -1}}, "tokenizer.train_max_chars: must be >= 1, got -1"),
    ({"quality": {"min_mean_word_length": -3.0}}, "quality.min_mean_word_length: must be >= 0.0, got -3.0"),
    ({"language": {"short_text_chars": -10}}, "language.short_text_chars: must be >= 0, got -10"),
    ({"quality": {"max_digit_ratio": float("nan")}}, "quality.max_digit_ratio"),
    ({"dedup": {"num_perm": True}}, "dedup.num_perm: expected an integer, got True"),
    ({"split": {"validation_fraction": {"papers": 0.1, "blogs": 0.1}}}, "split.validation_fraction.blogs: unknown key"),
    ({"quality": {"min_mean_word_length": 9.0, "max_mean_word_length": 8.0}}, "quality.max_mean_word_length"),
])
def test_issue_15_holes_are_closed(user, message):
    with pytest.raises(ConfigError) as err:
        validate_config(user)
    assert message in str(err.value)


def test_seconds_may_be_fractional_and_integers_count_as_numbers():
    cfg = validate_config({"extract": {"pdf_timeout_s": 90.5}, "scrape": {"read_timeout_s": 12}})
    assert cfg.extract.pdf_timeout_s == 90.5
    assert cfg.scrape.read_timeout_s == 12.0 and isinstance(cfg.scrape.read_timeout_s, float)


def test_duplicated_yaml_key_is_refused_with_its_line(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("quality:\n  min_words: 10\n  max_words: 900\n  min_words: 20\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "duplicate key 'min_words'" in str(err.value) and "line 4" in str(err.value)
    assert "\n" not in str(err.value)


def test_cli_refuses_bad_config_and_numbers_without_traceback(tmp_path, capsys):
    from gap_pipeline.cli import main

    cfg = tmp_path / "c.yaml"
    cfg.write_text("clean:\n  boilerplate_min_docs: -1\n")
    out = tmp_path / "out"
    assert main(["build", "--config", str(cfg), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "gap build: error: clean.boilerplate_min_docs: must be >= 1, got -1" in err
    assert not out.exists(), "nothing may be written before the config is valid"
    with pytest.raises(SystemExit) as exit_:
        main(["build", "--workers", "-3", "--out", str(out)])
    assert exit_.value.code == 2
    assert "argument --workers: must be >= 1, got -3" in capsys.readouterr().err
    assert not out.exists()


def test_quality_subsets_merge_over_the_shipped_ones():
    cfg = validate_config({"quality": {"subsets": {"papers": {"min_words": 10, "max_dup_ngram_fraction": None}}}})
    subsets = cfg.quality.subsets
    assert subsets["papers"] == {"min_words": 10, "max_dup_ngram_fraction": None}
    assert subsets["guidelines"] == default_config()["quality"]["subsets"]["guidelines"]
    assert validate_config({}).specs_dir == ""


@pytest.mark.parametrize("user, message", [
    ({"quality": {"subsets": {"guidelines": {"max_dup_ngram_fraction": 1.5}}}},
     "quality.subsets.guidelines.max_dup_ngram_fraction: must be between 0 and 1"),
    ({"quality": {"subsets": {"papers": {"min_words": -2}}}}, "quality.subsets.papers.min_words: expected a whole number"),
    ({"quality": {"subsets": {"papers": {"no_such_check": 1}}}}, "quality.subsets.papers.no_such_check: unknown quality threshold"),
    ({"quality": {"subsets": {"blogs": {}}}}, "quality.subsets"),
])
def test_quality_subset_thresholds_are_ranged(user, message):
    with pytest.raises(ConfigError) as err:
        validate_config(user)
    assert str(err.value).startswith(message), str(err.value)


@pytest.mark.parametrize("key", ["bucket_tokens", "buckets"])
def test_the_old_packing_bucket_keys_are_unknown_keys(key, tmp_path):
    """Packing streams per documents part now: a config still naming a bucket size fails in one line, as any
    unknown key does, in a file as in a mapping."""
    with pytest.raises(ConfigError) as err:
        validate_config({"packing": {key: 4096}})
    assert str(err.value) == f"unknown config key 'packing.{key}' (known keys here: seq_len)"
    path = tmp_path / "old.yaml"
    path.write_text(f"packing:\n  seq_len: 64\n  {key}: 4096\n")
    with pytest.raises(ConfigError, match=rf"^unknown config key 'packing\.{key}'") as err:
        load_config(path)
    assert "\n" not in str(err.value)
    assert "bucket_tokens" not in validate_config({}).to_dict()["packing"]


def test_the_language_stage_follows_the_corpus_seed_also_after_replace():
    cfg = load_config(None)
    assert cfg.language.seed == cfg.seed
    reseeded = cfg.replace(seed=cfg.seed + 1)
    assert reseeded.language.seed == cfg.seed + 1
    assert "seed" not in reseeded.to_dict()["language"]  # never a key of the section, never hashed twice
