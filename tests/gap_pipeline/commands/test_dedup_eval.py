"""`gap dedup-eval`: bad input files and output paths are one line each (the scores: tests/transforms/dedup/
test_evaluate.py)."""
from __future__ import annotations

import json

import pytest

from gap_pipeline.cli import main

GOOD = '{"id": "a", "text": "hello\u2028world"}\n{"id": "b", "text": "foo\u0085bar"}\n'


def _run(src, out):
    return main(["dedup-eval", str(src), "--out", str(out), "--engine", "local"])


def test_unicode_line_separators_inside_strings_are_one_record(tmp_path):
    src = tmp_path / "docs.jsonl"
    src.write_text(GOOD, encoding="utf-8")
    assert _run(src, tmp_path / "o.jsonl") == 0
    assert [json.loads(line)["id"] for line in (tmp_path / "o.jsonl").read_text().split("\n") if line] == ["a", "b"]


@pytest.mark.parametrize("content, message", [
    (b'{"id": "a", "text": "x"}\n{"id": "b", "text": "\xff"}\n', "not valid UTF-8"),
    (b"", "holds no documents"),
    (b"\n  \n", "holds no documents"),
])
def test_bad_input_file_is_one_line(tmp_path, content, message):
    src = tmp_path / "docs.jsonl"
    src.write_bytes(content)
    with pytest.raises(SystemExit) as exc:
        _run(src, tmp_path / "o.jsonl")
    assert str(exc.value).startswith(f"gap dedup-eval: {src}: {message}") and "\n" not in str(exc.value)
    assert not (tmp_path / "o.jsonl").exists()


def test_out_that_cannot_be_written_is_one_line(tmp_path):
    src = tmp_path / "docs.jsonl"
    src.write_text(GOOD, encoding="utf-8")
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("mine\n")
    with pytest.raises(SystemExit, match="is a folder"):
        _run(src, tmp_path / "folder")
    with pytest.raises(SystemExit, match="cannot write --out .*: Not a directory"):
        _run(src, tmp_path / "file" / "o.jsonl")
    assert (tmp_path / "file").read_text() == "mine\n"


def test_out_is_never_the_input(tmp_path):
    src = tmp_path / "docs.jsonl"
    src.write_text(GOOD, encoding="utf-8")
    with pytest.raises(SystemExit, match="is the input file"):
        _run(src, src)
    assert src.read_text(encoding="utf-8") == GOOD


@pytest.mark.parametrize("field, message", [
    ('"priority": "high"', '"priority" must be an integer or a number, got "high"'),
    ('"priority": true', '"priority" must be an integer or a number, got true'),
    ('"date": 5.5', '"date" must be a string or an integer, got 5.5'),
    ('"source": ["a"]', '"source" must be a string, got ["a"]'),
    ('"cluster": [1]', '"cluster" must be a string or an integer, got [1]'),
])
def test_an_optional_field_of_the_wrong_type_is_refused_not_ignored(tmp_path, field, message):
    src = tmp_path / "docs.jsonl"
    src.write_text('{"id": "a", "text": "x"}\n{"id": "b", "text": "y", ' + field + "}\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        _run(src, tmp_path / "o.jsonl")
    assert str(exc.value) == f"gap dedup-eval: {src}:2: {message}"
