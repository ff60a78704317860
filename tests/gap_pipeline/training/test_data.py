"""Memory-mapped shards, the global sampler, data state and resume refusal (the metrics log: test_metrics.py)."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from gap_pipeline.training.data import (DataError, DataMismatchError, GlobalSampler, TokenDataset,
                                        check_resume_data, data_state, load_corpus)
from schemas.shard import token_shard_schema
from testkit.synthetic import make_corpus


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"), train_rows=120, train_shards=3, batch_rows=7,
                       with_tokenizer=False)


def _train_set(root):
    c = load_corpus(root)
    return c, TokenDataset(c.train_shards, c.seq_len, c.vocab_size, c.shard_rows, c.root)


def test_rows_are_zero_copy_views_of_the_memory_map(corpus_dir):
    _, ds = _train_set(corpus_dir)
    assert len(ds) == 120
    ranges = []
    for mm in ds._maps:
        mm.seek(0)
        buf = mm.read_buffer(mm.size())   # zero-copy buffer over the whole mapping
        ranges.append((buf.address, buf.address + buf.size))
    for i in (0, 6, 7, 39, 40, 119):      # record-batch and shard boundaries included
        row = ds[i]
        assert not row.flags.owndata and row.dtype == np.uint16 and row.shape == (33,)
        assert any(lo <= row.ctypes.data < hi for lo, hi in ranges), f"row {i} is not inside a memory map"


def test_gather_matches_items_and_rows_are_the_written_ones(corpus_dir):
    _, ds = _train_set(corpus_dir)
    idx = np.array([119, 0, 40, 41, 7])
    batch = ds.gather(idx)
    assert batch.dtype == np.int64
    for out, i in zip(batch, idx):
        assert np.array_equal(out, ds[i])
    # synthetic rows are progressions modulo the vocabulary
    diffs = np.diff(batch, axis=1) % 128
    assert np.all(diffs == diffs[:, :1])


def test_sampler_gives_each_row_to_exactly_one_rank_per_epoch():
    n, world, micro, accum = 96, 2, 3, 2
    sampler = GlobalSampler(n, seed=7)
    seen: list[int] = []
    consumed = 0
    for _ in range(n // (world * micro * accum)):
        for rank in range(world):
            for rows in sampler.step_rows(consumed, rank, world, micro, accum):
                seen.extend(rows.tolist())
        consumed += world * micro * accum
    assert sorted(seen) == list(range(n))
    assert seen != list(range(n))                        # shuffled
    again = GlobalSampler(n, seed=7).positions_to_rows(np.arange(n))
    assert again.tolist() == GlobalSampler(n, seed=7).positions_to_rows(np.arange(n)).tolist()
    epoch2 = sampler.positions_to_rows(np.arange(n, 2 * n))
    assert sorted(epoch2.tolist()) == list(range(n)) and epoch2.tolist() != sampler.positions_to_rows(np.arange(n)).tolist()
    assert GlobalSampler(n, seed=8).positions_to_rows(np.arange(n)).tolist() != again.tolist()


def test_sampler_continues_without_repeats_when_the_world_size_changes():
    n = 60
    sampler = GlobalSampler(n, seed=1)
    seen = [r for rank in range(2) for rows in sampler.step_rows(0, rank, 2, 5, 1) for r in rows.tolist()]
    consumed = 10
    for rank in range(4):   # resumed on 4 ranks, 2 micro-steps of 5 rows
        for rows in sampler.step_rows(consumed, rank, 4, 5, 2):
            seen.extend(rows.tolist())
    assert len(seen) == len(set(seen)) == 50


def test_resume_on_other_data_is_refused_with_a_clear_message(tmp_path, corpus_dir):
    c, _ = _train_set(corpus_dir)
    state = data_state(48, c, seed=3, shuffle=True)
    assert check_resume_data(state, c, 3, True, "ckpt") == 48
    other = load_corpus(make_corpus(tmp_path / "other", train_rows=120, train_shards=3, seed=1, with_tokenizer=False))
    with pytest.raises(DataMismatchError, match="refusing to resume.*manifest hash"):
        check_resume_data(state, other, 3, True, "ckpt")
    with pytest.raises(DataMismatchError, match="seed"):
        check_resume_data(state, c, 4, True, "ckpt")


def test_manifest_hash_ignores_non_data_fields(tmp_path):
    root = make_corpus(tmp_path / "c", train_rows=20, train_shards=1, with_tokenizer=False)
    before = load_corpus(root).manifest_hash
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["report"] = {"anything": 1}
    (root / "manifest.json").write_text(json.dumps(manifest))
    assert load_corpus(root).manifest_hash == before
    manifest["shards"][0]["sha256"] = "f" * 64
    (root / "manifest.json").write_text(json.dumps(manifest))
    assert load_corpus(root).manifest_hash != before


def test_bad_corpora_fail_with_the_reason(tmp_path):
    with pytest.raises(DataError, match="no manifest: .*manifest.json does not exist"):
        load_corpus(tmp_path)
    root = make_corpus(tmp_path / "c", train_rows=20, train_shards=1, with_tokenizer=False)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["shards"][0]["rows"] = 21
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="holds 20 rows but the manifest says 21"):
        _train_set(root)
    manifest["shards"][0]["path"] = "train/missing.arrow"
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="missing on disk"):
        load_corpus(root)


def test_wrong_seq_len_and_out_of_vocab_tokens_are_reported(tmp_path):
    root = make_corpus(tmp_path / "c", seq_len=16, train_rows=20, train_shards=1, with_tokenizer=False)
    c = load_corpus(root)
    with pytest.raises(DataError, match="seq_len 16, expected 8"):
        TokenDataset(c.train_shards, 8, c.vocab_size)
    small = TokenDataset(c.train_shards, 16, vocab_size=10)
    with pytest.raises(DataError, match="vocab_size 10"):
        small.gather(np.arange(5))
    junk = tmp_path / "junk.arrow"
    junk.write_bytes(b"not arrow at all")
    with pytest.raises(DataError, match="not an Arrow IPC stream"):
        TokenDataset([junk], 16, 128)


def test_uint32_shards_read_too(tmp_path):
    schema = token_shard_schema(4, 70000)
    path = tmp_path / "big.arrow"
    rows = np.array([[69999, 1, 2, 3, 4], [5, 6, 7, 8, 65536]], dtype=np.uint32)
    ids = pa.FixedSizeListArray.from_arrays(pa.array(rows.reshape(-1), pa.uint32()), 5)
    batch = pa.record_batch([ids, pa.array(["papers"] * 2), pa.array([["d"]] * 2, pa.list_(pa.string())),
                             pa.array([[0]] * 2, pa.list_(pa.int32()))], schema=schema)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as w:
        w.write_batch(batch)
    ds = TokenDataset([path], 4, 70000)
    assert ds[0].dtype == np.uint32 and ds.gather(np.array([1, 0])).tolist() == [rows[1].tolist(), rows[0].tolist()]
    assert {k: v.tolist() for k, v in ds.rows_by_subset().items()} == {"papers": [0, 1]}


def test_validation_rows_group_by_subset(corpus_dir):
    c = load_corpus(corpus_dir)
    val = TokenDataset(c.validation_shards, c.seq_len, c.vocab_size)
    groups = val.rows_by_subset()
    assert {k: len(v) for k, v in groups.items()} == {"guidelines": 16, "papers": 16}
    assert set(groups["guidelines"].tolist()).isdisjoint(groups["papers"].tolist())


def test_loader_with_prefetch_yields_the_same_batches_and_hands_on_errors(corpus_dir):
    import torch

    from gap_pipeline.training.data import BatchLoader

    c, ds = _train_set(corpus_dir)
    kwargs = dict(rank=1, world=2, micro_batch=3, accum=2, consumed=12, device=torch.device("cpu"))
    a = BatchLoader(ds, GlobalSampler(len(ds), 0), prefetch=True, **kwargs)
    b = BatchLoader(ds, GlobalSampler(len(ds), 0), prefetch=False, **kwargs)
    try:
        for _ in range(25):   # crosses an epoch boundary (120 rows, 12 per step)
            for (xa, ya), (xb, yb) in zip(a.next_step(), b.next_step()):
                assert torch.equal(xa, xb) and torch.equal(ya, yb)
                assert torch.equal(xa[:, 1:], ya[:, :-1])   # labels are inputs shifted by one
        assert a.consumed == b.consumed == 12 + 25 * 12
    finally:
        a.close()
    calls = []

    def failing_gather(indices):
        calls.append(1)
        if len(calls) > 2:   # the first step (2 micro-batches) works, the prefetched next one fails
            raise DataError("broken shard")
        return ds.gather(indices)

    flaky = TokenDataset(c.train_shards, c.seq_len, c.vocab_size)
    flaky.gather = failing_gather
    bad = BatchLoader(flaky, GlobalSampler(len(ds), 0), prefetch=True, **kwargs)
    try:
        bad.next_step()
        with pytest.raises(DataError, match="broken shard"):
            bad.next_step()      # raised in the prefetch thread, handed to the training thread
    finally:
        bad.close()


# ------------------------------------------------------------------ issue 15: train only on checked shards

def _gap_train(root, out, *extra):
    from gap_pipeline.cli import main
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--data", str(root), "--out", str(out), "--steps", "1", *extra])
    return str(exit_.value.code)


def test_a_flipped_byte_stops_training_naming_the_shard(tmp_path):
    from gap_pipeline.training.data import verify_shards

    root = make_corpus(tmp_path / "c", train_rows=40, train_shards=2, with_tokenizer=False)
    assert verify_shards(load_corpus(root)) == []
    rel = "train/train-00001.arrow"
    data = bytearray((root / rel).read_bytes())
    data[len(data) - 40] ^= 0x01          # inside the token ids: the shard still parses
    (root / rel).write_bytes(bytes(data))
    assert len(TokenDataset(load_corpus(root).train_shards, 32, 128)) == 40   # readable, so only the hash tells
    problems = verify_shards(load_corpus(root))
    assert len(problems) == 1 and problems[0].startswith(f"shard {rel}: sha256 ")
    message = _gap_train(root, tmp_path / "run")
    assert message.startswith(f"gap train: shard {rel}: sha256") and "\n" not in message
    assert not (tmp_path / "run").exists(), "nothing may be written before the shards are checked"


def test_a_truncated_shard_is_one_line_with_or_without_the_check(tmp_path):
    root = make_corpus(tmp_path / "c", train_rows=40, train_shards=2, with_tokenizer=False)
    rel = "train/train-00000.arrow"
    data = (root / rel).read_bytes()
    (root / rel).write_bytes(data[: len(data) // 2])
    message = _gap_train(root, tmp_path / "run")
    assert message.startswith(f"gap train: shard {rel}: sha256") and "truncated" in message
    message = _gap_train(root, tmp_path / "run2", "--no-verify-shards")
    assert message.startswith("gap train: ") and rel in message and "cut short" in message
    assert "\n" not in message


def test_shard_paths_leaving_the_corpus_are_refused(tmp_path):
    root = make_corpus(tmp_path / "c", train_rows=20, train_shards=1, with_tokenizer=False)
    manifest = json.loads((root / "manifest.json").read_text())
    for bad, why in (("../../../../etc/passwd", "not a plain relative path"), ("/etc/passwd", "absolute")):
        manifest["shards"][0]["path"] = bad
        (root / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(DataError, match=f"path '{bad}' is {why}"):
            load_corpus(root)
    outside = tmp_path / "outside.arrow"
    (root / "train" / "train-00000.arrow").rename(outside)
    (root / "train" / "train-00000.arrow").symlink_to(outside)
    manifest["shards"][0]["path"] = "train/train-00000.arrow"
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DataError, match="a link that leads out of the corpus folder"):
        load_corpus(root)
