"""Bad inputs before a build (gap_pipeline/build.py): clear errors for missing or unreadable stores and
missing files; bad rows inside a build: tests/transforms/test_parts.py."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from gap_pipeline.build import BuildError, list_raw_parts, load_sources, run_build
from gap_pipeline.config import ConfigError, validate_config
from schemas.raw import RAW_SCHEMA
from scrapers.specs import load_spec
from tests.transforms._helpers import _record


def test_missing_input_is_a_clear_error(tmp_path):
    with pytest.raises(BuildError, match="not found"):
        list_raw_parts(str(tmp_path / "nope"))
    with pytest.raises(BuildError, match="no Parquet parts"):
        list_raw_parts(str(tmp_path))


def test_unreadable_part_is_named(tmp_path):
    good = tmp_path / "cdc" / "part-00000.parquet"
    good.parent.mkdir()
    pq.write_table(pa.Table.from_pylist([_record("u1")], schema=RAW_SCHEMA), good)
    (tmp_path / "cdc" / "part-00001.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(BuildError, match="part-00001.parquet is unreadable"):
        list_raw_parts(str(tmp_path))


def test_part_with_wrong_columns_is_named(tmp_path):
    pq.write_table(pa.table({"url": ["x"]}), tmp_path / "part.parquet")
    with pytest.raises(BuildError, match="lacks column 'source'"):
        list_raw_parts(str(tmp_path))


def test_missing_benchmark_and_tokenizer_files_are_config_errors(tmp_path):
    cfg = validate_config({"input": "sample", "decontamination": {"benchmarks": [str(tmp_path / "none.jsonl")]}})
    with pytest.raises(ConfigError, match="benchmarks: file not found"):
        run_build(cfg, str(tmp_path / "out"))
    cfg = validate_config({"input": "sample", "tokenizer": {"model": str(tmp_path / "none.model")}})
    with pytest.raises(ConfigError, match="tokenizer.model: file not found"):
        run_build(cfg, str(tmp_path / "out"))


def test_a_content_selector_the_extractor_cannot_run_is_a_config_error_before_the_build(tmp_path):
    # valid CSS (the crawler's engine takes it) but outside the extractor's subset: every page would be quarantined
    spec = load_spec("gc")
    spec.update(id="acme")
    spec["content"]["body_selector"] = "main div:not(.ad)"
    (tmp_path / "acme.yaml").write_text(yaml.safe_dump(spec))
    cfg = validate_config({"input": "sample", "specs_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match=r"source spec acme: content.body_selector: unsupported CSS selector part "
                                          r"'div:not\(.ad\)'"):
        load_sources(cfg)
    assert "acme" not in load_sources(cfg.replace(sources=["gc"]))  # only the selected sources are checked
