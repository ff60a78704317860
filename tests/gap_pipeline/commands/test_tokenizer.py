"""`gap tokenizer train|info` (the `corpus` fixture: tests/gap_pipeline/conftest.py)."""
from __future__ import annotations

import json

import pytest

from gap_pipeline.cli import main
from transforms.tokenizer import load_tokenizer


def test_tokenizer_train_is_deterministic_and_usable(corpus, tmp_path, capsys):
    out, docs = corpus
    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text("".join(json.dumps({"id": d.id, "text": d.text}) + "\n" for d in reversed(docs)))
    args = ["tokenizer", "train", "--vocab-size", "500", "--max-chars", "30000"]
    assert main(args + ["--docs", str(out / "documents"), "--out", str(tmp_path / "a.model")]) == 0
    assert main(args + ["--docs", str(jsonl), "--out", str(tmp_path / "b.model")]) == 0
    # Same documents (other format, other order) -> the same model bytes: the sample is chosen by id hash.
    a, b = (tmp_path / "a.model").read_bytes(), (tmp_path / "b.model").read_bytes()
    assert a == b
    sp = load_tokenizer(a)
    assert sp.decode(sp.encode(docs[0].text)) == docs[0].text
    capsys.readouterr()
    assert main(["tokenizer", "info", str(tmp_path / "a.model")]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["special_tokens"]["[BIB_REF]"] == sp.piece_to_id("[BIB_REF]")
    assert info["bos_id"] == 1 and info["eos_id"] == 2


def test_tokenizer_train_reports_bad_input(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "no text"}\n')
    with pytest.raises(SystemExit, match="bad.jsonl:1"):
        main(["tokenizer", "train", "--docs", str(bad), "--out", str(tmp_path / "m.model")])


@pytest.mark.parametrize("name, content, message", [
    ("docs.parquet", b"PAR1 not really parquet", "not a readable Parquet file"),
    ("docs.txt", b"caf\xe9 au lait\n", "not valid UTF-8 text"),
    ("docs.jsonl", b'{"text": "ok"}\n{"text": "\xff"}\n', "not valid UTF-8 text"),
    ("docs.jsonl", b'{"id": "a", "text": 5}\n', "docs.jsonl:1: 'text' is not a string"),
    ("docs.bin", b"\x00\x9f\x92\x96 binary", "not valid UTF-8 text"),
])
def test_tokenizer_train_names_an_unreadable_document_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(SystemExit) as exc:
        main(["tokenizer", "train", "--docs", str(path), "--out", str(tmp_path / "m.model")])
    assert str(exc.value).startswith(f"gap tokenizer train: {path}") and message in str(exc.value)
    assert "\n" not in str(exc.value) and not (tmp_path / "m.model").exists()


def test_tokenizer_train_refuses_an_out_it_cannot_write(tmp_path):
    docs = tmp_path / "docs.txt"
    docs.write_text("Adults with pneumonia should receive amoxicillin for five days. " * 40)
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("mine\n")
    args = ["tokenizer", "train", "--docs", str(docs), "--vocab-size", "400", "--out"]
    with pytest.raises(SystemExit, match="is a folder"):
        main(args + [str(tmp_path / "folder")])
    with pytest.raises(SystemExit, match="file is a file, not a folder"):
        main(args + [str(tmp_path / "file" / "m.model")])
    assert (tmp_path / "file").read_text() == "mine\n"
