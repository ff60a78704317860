"""`gap verify` on a small built corpus: clean, then with one thing broken at a time."""
from __future__ import annotations

import json
import shutil

import pytest

from gap_pipeline.cli import main
from schemas.events import Drop
from tests.shards.build import build_fake_out, run_verify
from tests.shards.corpus import make_docs


def fake_drops(docs):
    kept = docs[:3]
    return [Drop(doc_id=f"gone{i}", source=d.source, subset=d.subset, stage=stage, reason=reason, chars=100,
                 detail=detail)
            for i, (d, stage, reason, detail) in enumerate([
                (kept[0], "quality", "too_short", ""), (kept[1], "dedup_near", "near_duplicate", kept[0].id),
                (kept[1], "dedup_near", "near_duplicate", kept[0].id), (kept[2], "language", "not_allowed:es", ""),
            ])]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    docs = make_docs(n_per_subset=12)
    out = tmp_path_factory.mktemp("corpus")
    build_fake_out(docs, out, drops=fake_drops(docs), target_bytes=8192)
    return out


@pytest.fixture
def corpus(pristine, tmp_path):
    copy = tmp_path / "corpus"
    shutil.copytree(pristine, copy)
    return copy


def _manifest(out):
    return json.loads((out / "manifest.json").read_text())


def test_clean_corpus_verifies(corpus, capsys):
    code, text = run_verify(corpus, capsys)
    assert code == 0, text
    assert "OK" in text


def test_flipped_byte_is_caught(corpus, capsys):
    shard = _manifest(corpus)["shards"][0]
    path = corpus / shard["path"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    code, text = run_verify(corpus, capsys)
    assert code == 1
    assert f"checksum mismatch: {shard['path']} has sha256" in text


def test_missing_shard_is_caught(corpus, capsys):
    shard = _manifest(corpus)["shards"][-1]
    (corpus / shard["path"]).unlink()
    code, text = run_verify(corpus, capsys)
    assert code == 1
    assert f"missing shard: {shard['path']} is listed in manifest.json but not on disk" in text


def test_wrong_counts_are_caught(corpus, capsys):
    manifest = _manifest(corpus)
    manifest["shards"][0]["rows"] += 1
    manifest["accounting"]["documents"]["kept"] += 1
    (corpus / "manifest.json").write_text(json.dumps(manifest))
    code, text = run_verify(corpus, capsys)
    assert code == 1
    shard = manifest["shards"][0]
    assert f"row count: {shard['path']} has {shard['rows'] - 1} rows, manifest says {shard['rows']}" in text
    assert "accounting: documents extracted" in text
    assert "documents/*.parquet holds" in text


def test_unlisted_shard_tokenizer_and_drops_are_caught(corpus, capsys):
    shard = _manifest(corpus)["shards"][0]
    shutil.copy(corpus / shard["path"], corpus / "train" / "train-99999-of-99999.arrow")
    (corpus / "tokenizer.model").write_bytes(b"junk")
    with open(next((corpus / "dropped").glob("*.jsonl")), "a") as f:
        f.write(fake_drops(make_docs(n_per_subset=1))[0].to_json() + "\n")
    code, text = run_verify(corpus, capsys)
    assert code == 1
    assert "unlisted shard: train/train-99999-of-99999.arrow" in text
    assert "checksum mismatch: tokenizer.model" in text
    assert "dropped/*.jsonl holds 5 drops, manifest says 4" in text


def test_missing_manifest(tmp_path, capsys):
    code, text = run_verify(tmp_path, capsys)
    assert code == 1 and "no manifest" in text
