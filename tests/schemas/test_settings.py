"""schemas/settings.py: the one base both configs stand on (Section, F, merge, validate, load_yaml)."""
from __future__ import annotations

from typing import Literal

import pytest

from schemas.settings import F, Section, SettingsError, YamlFileError, load_yaml, merge, validate


class Inner(Section):
    size: int = F(3, ge=1, doc="a count")
    mode: Literal["a", "b"] = F("a", doc="a choice")


class Outer(Section):
    name: str = F("x", min_length=1, doc="a name")
    inner: Inner = F(default_factory=Inner, doc="a nested section")


def test_merge_then_validate_names_the_path_of_every_problem():
    base = Outer().to_dict()
    assert validate(Outer, merge(base, {"inner": {"size": 5}})) == Outer(inner=Inner(size=5))
    with pytest.raises(SettingsError) as err:
        merge(base, {"inner": {"sise": 5}})
    assert str(err.value) == "unknown config key 'inner.sise' (known keys here: mode, size)"
    cases = [({"inner": {"size": 0}}, "inner.size: must be >= 1, got 0"),
             ({"inner": {"size": "5"}}, "inner.size: expected an integer, got '5'"),
             ({"inner": {"size": True}}, "inner.size: expected an integer, got True"),
             ({"inner": {"mode": "c"}}, "inner.mode: must be one of 'a' or 'b', got 'c'"),
             ({"inner": 4}, "inner: expected a mapping, got 4"),
             ({"name": ""}, "name: must not be empty, got ''")]
    for override, message in cases:
        with pytest.raises(SettingsError) as err:
            validate(Outer, merge(base, override))
        assert str(err.value) == message
    with pytest.raises(SettingsError) as err:  # every problem is found in one pass; the first is named
        validate(Outer, {"name": "", "inner": {"size": 0, "mode": "a"}})
    assert str(err.value) == "name: must not be empty, got '' (and 1 more problem(s))"
    with pytest.raises(SettingsError, match=r"^config: expected a mapping, got a list$"):
        merge(base, [1])


def test_a_free_keyed_map_is_replaced_whole_and_the_error_class_is_the_callers():
    class Own(SettingsError):
        pass

    base = {"shares": {"a": 0.5, "b": 0.5}, "n": 1}
    assert merge(base, {"shares": {"c": 1.0}}, replaced_whole=["shares"]) == {"shares": {"c": 1.0}, "n": 1}
    assert merge(base, {"shares": {"a": 1.0}}) == {"shares": {"a": 1.0, "b": 0.5}, "n": 1}
    assert base == {"shares": {"a": 0.5, "b": 0.5}, "n": 1}, "the defaults are never changed"
    with pytest.raises(Own, match="unknown config key 'm'"):
        merge(base, {"m": 2}, error=Own)


def test_a_section_is_frozen_and_replace_checks_the_new_values():
    s = Outer()
    with pytest.raises(Exception):
        s.name = "y"
    assert s.replace(name="y").name == "y" and s.name == "x"
    with pytest.raises(SettingsError, match="^inner: expected a mapping"):
        s.replace(inner=3)
    with pytest.raises(SettingsError, match="^unknown config key 'colour'"):
        s.replace(colour="red")


def test_yaml_refuses_a_key_given_twice_naming_its_lines():
    assert load_yaml("a: 1\nb: {c: 2}\n", "f.yaml") == {"a": 1, "b": {"c": 2}}
    with pytest.raises(YamlFileError) as err:
        load_yaml("a: 1\nb: 2\na: 3\n", "f.yaml")
    assert "duplicate key 'a' (first given at line 1)" in str(err.value) and "line 3" in str(err.value)
    assert str(err.value).startswith("config file f.yaml is not valid YAML")


def test_the_corpus_and_the_trainer_share_the_merger_and_its_words(tmp_path):
    """An unknown nested key in a training YAML names its full path, in the corpus config's format."""
    from gap_pipeline.config import ConfigError, load_config
    from gap_pipeline.training.config import TrainConfigError, load_train_config

    train = tmp_path / "train.yaml"
    train.write_text("steps: 5\nmodel:\n  dim: 64\n  n_layrs: 3\n")
    with pytest.raises(TrainConfigError) as train_err:
        load_train_config("tiny", train)
    corpus = tmp_path / "corpus.yaml"
    corpus.write_text("quality:\n  min_wrds: 3\n")
    with pytest.raises(ConfigError) as corpus_err:
        load_config(corpus)
    assert str(train_err.value).startswith("unknown config key 'model.n_layrs' (known keys here: dim, ffn_dim, ")
    assert str(corpus_err.value).startswith("unknown config key 'quality.min_wrds' (known keys here: ")
    assert isinstance(train_err.value, SettingsError) and isinstance(corpus_err.value, SettingsError)
    # a bad value: the same "<path>: <message>" on both sides
    train.write_text("optim:\n  warmup_steps: -1\n")
    with pytest.raises(TrainConfigError, match=r"^optim.warmup_steps: must be >= 0, got -1$"):
        load_train_config("tiny", train)
    corpus.write_text("dedup:\n  shingle_size: 0\n")
    with pytest.raises(ConfigError, match=r"^dedup.shingle_size: must be >= 1, got 0$"):
        load_config(corpus)
