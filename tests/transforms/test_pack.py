"""Packing token streams into rows (transforms/pack.py): the plain function, and the streaming Packer, which
holds less than one row plus the document being added, checked against an independent one-shot cut."""
from __future__ import annotations

import random

import numpy as np
import pytest

from tests.transforms._tail import SEQ_LEN, VOCAB, WIDTH
from transforms.pack import Packer, pack_tokens


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


def _random_docs(rng: random.Random, n: int) -> list[tuple[str, list[int]]]:
    """Documents of 1..90 tokens, with every 7th one long (2..9 rows) and a few exactly one row."""
    docs = []
    for i in range(n):
        if i % 7 == 3:
            length = rng.randint(2 * WIDTH, 9 * WIDTH)
        elif i % 11 == 5:
            length = WIDTH
        else:
            length = rng.randint(1, 90)
        docs.append((f"d{i:04d}", [rng.randrange(3, VOCAB) for _ in range(length)]))
    return docs


def _reference_cut(docs: list[tuple[str, list[int]]], width: int) -> tuple[list[dict], int]:
    """One-shot reference: concatenate everything, cut rows of `width`, and find each row's documents
    from their absolute [start, end) offsets in the stream."""
    stream = [t for _, ids in docs for t in ids]
    spans, at = [], 0
    for doc_id, ids in docs:
        if ids:
            spans.append((doc_id, at, at + len(ids)))
        at += len(ids)
    rows = []
    for r in range(len(stream) // width):
        lo, hi = r * width, (r + 1) * width
        inside = [(d, s) for d, s, e in spans if s < hi and e > lo]
        rows.append({"input_ids": stream[lo:hi], "doc_ids": [d for d, _ in inside],
                     "doc_starts": [s - lo for _, s in inside]})
    return rows, len(stream) % width


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_streaming_packer_equals_a_one_shot_cut_of_the_stream(seed):
    rng = random.Random(seed)
    docs = _random_docs(rng, 120)
    expected, expected_waste = _reference_cut(docs, WIDTH)
    packer = Packer(SEQ_LEN)
    rows = []
    for doc_id, ids in docs:
        added = packer.add(doc_id, ids)
        rows += added
        # Bounded: after each document, less than one row is held.
        assert packer._held < WIDTH
        # A document completes at most ceil(len / width) + 1 rows.
        assert len(added) <= -(-len(ids) // WIDTH) + 1
    waste = packer.finish()
    assert waste == expected_waste
    assert len(rows) == len(expected) > 30
    for got, want in zip(rows, expected):
        assert got["input_ids"].dtype == np.uint32 and got["input_ids"].tolist() == want["input_ids"]
        assert got["doc_ids"] == want["doc_ids"]
        assert got["doc_starts"] == want["doc_starts"]
    # Long documents span rows: later rows start with a negative offset (how far back the document began).
    assert any(r["doc_starts"][0] < -WIDTH for r in rows)
    assert all(s >= 0 for r in rows for s in r["doc_starts"][1:])
    # pack_tokens is the same stream in one call; a finished packer starts afresh.
    one_shot, one_waste = pack_tokens(docs, SEQ_LEN)
    assert one_waste == waste and [r["doc_ids"] for r in one_shot] == [r["doc_ids"] for r in rows]
    again = [row for doc_id, ids in docs for row in packer.add(doc_id, ids)]
    assert [r["input_ids"].tolist() for r in again] == [r["input_ids"] for r in expected]
    assert packer.finish() == expected_waste


def test_packer_edge_cases():
    packer = Packer(SEQ_LEN)
    assert packer.add("empty", []) == [] and packer.finish() == 0
    # Exactly one row: no waste, the document starts at 0; then a row-and-one leaves one token.
    rows = packer.add("one", list(range(3, 3 + WIDTH)))
    assert len(rows) == 1 and rows[0]["doc_ids"] == ["one"] and rows[0]["doc_starts"] == [0]
    rows = packer.add("more", list(range(3, 4 + WIDTH)))
    assert len(rows) == 1 and packer.finish() == 1
    # A document that ends exactly at a row boundary is not named in the next row.
    packer.add("a", [5] * (WIDTH - 4))
    rows = packer.add("b", [6] * 4) + packer.add("c", [7] * WIDTH)
    assert [r["doc_ids"] for r in rows] == [["a", "b"], ["c"]] and rows[0]["doc_starts"] == [0, WIDTH - 4]
    with pytest.raises(ValueError, match="seq_len must be positive"):
        Packer(0)
