"""`gap export OUT --format megatron`, read back with megatron-core's own IndexedDataset and compared token for
token with the Arrow shards."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pyarrow as pa
import pytest

from gap_pipeline.cli import main
from gap_pipeline.megatron import row_sequence_lengths
from testkit.tail_build import build_fake_out
from testkit.shard_docs import make_docs
from transforms.shards import write_rows


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("corpus")
    build_fake_out(make_docs(n_per_subset=8), out, target_bytes=8192)
    return out


def _indexed_dataset():
    with warnings.catch_warnings():   # "Transformer Engine and Apex are not installed" on a CPU machine
        warnings.simplefilter("ignore")
        try:
            from megatron.core.datasets.indexed_dataset import IndexedDataset
        except ImportError:
            pytest.skip("megatron-core (dev extra) is not installed")
    return IndexedDataset


def _rows(out, manifest, split):
    """The split's rows in the trainer's order: shards sorted by path, rows in file order."""
    rows = []
    for path in sorted(s["path"] for s in manifest["shards"] if s["split"] == split and s["rows"]):
        with pa.memory_map(str(out / path)) as src:
            rows += pa.ipc.open_stream(src).read_all().to_pylist()
    return rows


def test_megatron_reads_the_export_token_for_token(corpus, tmp_path, capsys):
    IndexedDataset = _indexed_dataset()
    manifest = json.loads((corpus / "manifest.json").read_text())
    width = manifest["tokenizer"]["seq_len"] + 1
    bos = manifest["tokenizer"]["bos_id"]
    dest = tmp_path / "megatron"
    assert main(["export", str(corpus), "--format", "megatron", "--dest", str(dest)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["megatron_args"].startswith(f"--train-data-path {dest / 'train'} --valid-data-path")
    for split in ("train", "validation"):
        rows = _rows(corpus, manifest, split)
        ds = IndexedDataset(str(dest / split))
        assert ds.index.dtype == np.uint16
        # Expected sequences: every row cut at each document start it records.
        expected = []
        for row in rows:
            starts = [s for s in row["doc_starts"] if s > 0] + [width]
            cut = 0
            for s in starts:
                expected.append((row["input_ids"][cut:s], cut in row["doc_starts"]))
                cut = s
        assert len(ds) == len(expected) == summary["splits"][split]["sequences"]
        assert list(ds.document_indices) == list(range(len(ds) + 1))   # one document per sequence
        for i, (ids, starts_doc) in enumerate(expected):
            got = ds[i]
            assert got.tolist() == ids
            if starts_doc:
                assert got[0] == bos
        stream = np.concatenate([ds[i] for i in range(len(ds))])
        assert stream.tolist() == [t for r in rows for t in r["input_ids"]]
        assert int(ds.sequence_lengths.sum()) == len(rows) * width == summary["splits"][split]["tokens"]


def test_ids_above_uint16_are_written_int32(tmp_path):
    IndexedDataset = _indexed_dataset()
    seq_len, vocab = 7, 70_000
    rng = np.random.default_rng(0)
    rows = [{"subset": "papers", "bucket": 0, "index": i, "input_ids": rng.integers(0, vocab, seq_len + 1),
             "doc_ids": ["a", "b"], "doc_starts": [-3, 5]} for i in range(6)]
    info = write_rows(str(tmp_path / "train"), "validation", 0, 1, rows, seq_len, vocab)
    info["path"] = "train/" + info["path"].split("/", 1)[1]
    (tmp_path / "manifest.json").write_text(json.dumps({
        "tokenizer": {"seq_len": seq_len, "vocab_size": vocab, "bos_id": 1, "eos_id": 2, "sha256": "x"},
        "shards": [{**info, "split": "train"}]}))
    assert main(["export", str(tmp_path), "--format", "megatron"]) == 0
    ds = IndexedDataset(str(tmp_path / "export" / "megatron" / "train"))
    assert ds.index.dtype == np.int32 and len(ds) == 12
    assert np.concatenate([ds[i] for i in range(len(ds))]).tolist() == [int(t) for r in rows for t in r["input_ids"]]
    assert [len(ds[i]) for i in range(2)] == [5, 3]


def test_sequence_cuts():
    table = pa.table({"input_ids": pa.array([[0] * 4] * 3, pa.list_(pa.uint16(), 4)),
                      "doc_starts": pa.array([[0, 2], [-2], [-6, 1, 3]], pa.list_(pa.int32()))})
    assert row_sequence_lengths(table, 4).tolist() == [2, 2, 4, 1, 2, 1]
    assert row_sequence_lengths(table.drop_columns(["doc_starts"]), 4).tolist() == [4, 4, 4]
    # Several record batches (as in large shards): row numbers run across them.
    two = pa.Table.from_batches(table.to_batches(max_chunksize=2))
    assert two.column("doc_starts").num_chunks == 2
    assert row_sequence_lengths(two, 4).tolist() == [2, 2, 4, 1, 2, 1]


def test_bad_inputs_are_one_line_errors(corpus, tmp_path, capsys):
    assert main(["export", str(tmp_path / "nowhere"), "--format", "megatron"]) == 1
    assert "no manifest" in capsys.readouterr().err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{}")
    assert main(["export", str(broken), "--format", "megatron"]) == 1
    assert "not a gap manifest" in capsys.readouterr().err
    manifest = json.loads((corpus / "manifest.json").read_text())
    (broken / "manifest.json").write_text(json.dumps(manifest))
    assert main(["export", str(broken), "--format", "megatron"]) == 1
    err = capsys.readouterr().err.strip()
    assert "shard listed in manifest.json is missing" in err and "\n" not in err
    assert main(["export", str(corpus), "--format", "megatron", "--redistributable"]) == 2


def test_the_index_written_in_chunks_is_the_index_written_at_once(corpus, tmp_path, monkeypatch):
    # the index goes out INDEX_CHUNK sequence lengths at a time; chunk boundaries must not show in the bytes
    from gap_pipeline import megatron
    whole = megatron.export_megatron(corpus, tmp_path / "whole")
    monkeypatch.setattr(megatron, "INDEX_CHUNK", 1)
    chunked = megatron.export_megatron(corpus, tmp_path / "chunked")
    for split in whole["splits"]:
        assert whole["splits"][split]["sequences"] > 1
        for suffix in (".idx", ".bin"):
            assert ((tmp_path / "whole" / split).with_suffix(suffix).read_bytes()
                    == (tmp_path / "chunked" / split).with_suffix(suffix).read_bytes())
        index = (tmp_path / "whole" / split).with_suffix(".idx").read_bytes()
        n = whole["splits"][split]["sequences"]
        header = len(megatron.MAGIC) + 8 + 1 + 8 + 8
        lengths = np.frombuffer(index[header:header + 4 * n], dtype=np.int32)
        pointers = np.frombuffer(index[header + 4 * n:header + 12 * n], dtype=np.int64)
        width = np.dtype(whole["splits"][split]["dtype"]).itemsize
        assert pointers[0] == 0 and (np.diff(pointers) == lengths[:-1] * width).all()
        assert int(lengths.sum()) == whole["splits"][split]["tokens"]
    assert sorted(p.name for p in (tmp_path / "chunked").iterdir()) == [
        "megatron.json", "train.bin", "train.idx", "validation.bin", "validation.idx"]  # no temp file left
