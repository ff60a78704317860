"""Packing token streams into rows as a plain function (transforms/pack.py); the streaming Packer: test_shards_bounded.py."""
from __future__ import annotations

import numpy as np

from transforms.pack import pack_tokens


def test_pack_tokens_rows_provenance_and_waste():
    rng = np.random.default_rng(0)
    docs = [(f"d{i}", list(rng.integers(3, 100, size=int(rng.integers(1, 300))))) for i in range(50)]
    seq_len = 31
    rows, waste = pack_tokens(docs, seq_len)
    total = sum(len(ids) for _, ids in docs)
    assert len(rows) == total // (seq_len + 1) and waste == total % (seq_len + 1)
    stream = np.concatenate([np.asarray(ids) for _, ids in docs])
    assert np.array_equal(np.concatenate([r["input_ids"] for r in rows]), stream[: len(rows) * 32])
    starts = dict(zip([d for d, _ in docs], np.cumsum([0] + [len(i) for _, i in docs])[:-1]))
    for r_index, row in enumerate(rows):
        assert len(row["input_ids"]) == seq_len + 1
        assert len(row["doc_ids"]) == len(row["doc_starts"])
        for doc_id, start in zip(row["doc_ids"], row["doc_starts"]):
            assert start == starts[doc_id] - r_index * 32
        # Only the first document of a row may have begun earlier.
        assert all(s >= 0 for s in row["doc_starts"][1:])
    # A document longer than a row spans several rows and is never cropped.
    long_rows, _ = pack_tokens([("long", list(range(1, 200)))], 15)
    assert [r["doc_ids"] for r in long_rows] == [["long"]] * (199 // 16)
    assert pack_tokens([], 8) == ([], 0)
