"""transforms/extract/options.py: the extractors' options, a frozen value the config fills field by field and
the extractors honour (size limits at their exact boundary)."""
from __future__ import annotations

import dataclasses
import gzip

import pytest

from gap_pipeline.config import default_config
from schemas.raw import RawRecord
from transforms.extract import ExtractError, extract_record
from transforms.extract.options import ExtractOptions
from transforms.settings import ExtractSettings


def _raw(content: bytes, content_type: str = "text") -> RawRecord:
    return RawRecord.make(source="cdc", url="https://example.org/a", fetched_at="2026-01-01T00:00:00+00:00",
                          content_type=content_type, content=content, license="public-domain")


def test_options_are_frozen_values():
    opts = ExtractOptions()
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.tables = "drop"
    assert ExtractOptions(tables="drop") == dataclasses.replace(opts, tables="drop") != opts
    assert hash(ExtractOptions(citations="remove")) == hash(ExtractOptions(citations="remove"))
    assert opts.tables == "linearize"  # replace() made a new value, the old one is unchanged


def test_every_option_is_filled_from_its_config_key():
    names = [f.name for f in dataclasses.fields(ExtractOptions)]
    assert set(names) == set(ExtractSettings.model_fields)
    # a value unlike every default for each key, so a key left out of ExtractSettings.options would show
    values = {"citations": "remove", "tables": "caption", "max_content_bytes": 11, "max_decompressed_bytes": 12,
              "pdf_max_pages": 13, "pdf_timeout_s": 14.5, "pdf_isolation": "inline", "pdf_max_text_chars": 15}
    assert set(values) == set(names)
    assert all(values[n] != getattr(ExtractOptions(), n) for n in names)
    opts = ExtractSettings(**{**default_config()["extract"], **values}).options
    assert {n: getattr(opts, n) for n in names} == values


def test_edge_values_the_config_refuses_can_still_be_built_by_hand():
    assert ExtractOptions(pdf_timeout_s=0).pdf_timeout_s == 0  # tests use a 0 s timeout
    with pytest.raises(ValueError, match="pdf_timeout_s"):
        ExtractSettings(**{**default_config()["extract"], "pdf_timeout_s": 0})


def test_max_content_bytes_is_a_limit_at_its_exact_boundary():
    content = "ünïcode text\u2028".encode()
    limit = len(content)
    assert [d.text for d in extract_record(_raw(content), subset="guidelines",
                                           options=ExtractOptions(max_content_bytes=limit))] == [content.decode()]
    with pytest.raises(ExtractError) as info:
        extract_record(_raw(content), subset="guidelines", options=ExtractOptions(max_content_bytes=limit - 1))
    assert str(info.value) == f"content of {limit} bytes exceeds max_content_bytes={limit - 1}"


def test_max_decompressed_bytes_refuses_gzip_that_expands_past_it():
    article = ("<article><front><article-meta><title-group><article-title>T</article-title></title-group>"
               "</article-meta></front><body><p>" + "word " * 2000 + "</p></body></article>").encode()
    packed = gzip.compress(article, mtime=0)
    assert len(packed) < 1000 < len(article)
    with pytest.raises(ExtractError, match="max_decompressed_bytes"):
        extract_record(_raw(packed, "jats"), subset="papers", options=ExtractOptions(max_decompressed_bytes=1000))
    [doc] = extract_record(_raw(packed, "jats"), subset="papers",
                           options=ExtractOptions(max_decompressed_bytes=len(article)))
    assert doc.text.count("word") == 2000
