"""`gap tokenizer train|info` and `gap export --redistributable`."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from gap_pipeline.cli import main
from gap_pipeline.export import licence_allows_redistribution
from testkit.tail_build import build_fake_out
from testkit.shard_docs import make_docs
from transforms.tokenizer import load_tokenizer


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    docs = make_docs(n_per_subset=8)
    out = tmp_path_factory.mktemp("corpus")
    build_fake_out(docs, out)
    return out, docs


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


@pytest.mark.parametrize("licence,ok", [
    ("CC-BY-4.0", True), ("CC-BY-SA-3.0", True), ("cc0", True), ("public-domain", True), ("OGL-UK-3.0", True),
    ("CC-BY-NC-SA-3.0-IGO", False), ("CC-BY-ND-4.0", False), ("all-rights-reserved", False),
    ("nlm-terms", False), ("", False), ("unknown", False),
])
def test_licence_rule(licence, ok):
    assert licence_allows_redistribution(licence) is ok


def test_export_redistributable(corpus, capsys):
    out, docs = corpus
    assert main(["export", str(out), "--redistributable"]) == 0
    summary = json.loads(capsys.readouterr().out)
    dest = out / "export" / "redistributable"
    lines = [json.loads(l) for l in (dest / "documents.jsonl").read_text().splitlines()]
    table = pq.read_table(dest / "documents.parquet")
    expected = sorted(d.id for d in docs if d.source != "who")  # WHO: NC licence, source not redistributable
    assert [l["id"] for l in lines] == expected == table.column("id").to_pylist()
    assert summary["exported"] == len(expected)
    assert summary["excluded_by_source"] == {"who": sum(d.source == "who" for d in docs)}
    by_id = {d.id: d for d in docs}
    assert all(l["text"] == by_id[l["id"]].text for l in lines)
    # Without the flag everything kept is written.
    assert main(["export", str(out)]) == 0
    assert len((out / "export" / "all" / "documents.jsonl").read_text().splitlines()) == len(docs)
