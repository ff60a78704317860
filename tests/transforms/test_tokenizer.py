"""Split, tokenizer, packing and mixing as plain functions."""
from __future__ import annotations

import collections

import numpy as np
import pytest

from testkit.shard_docs import make_docs
from transforms.mix import MixtureError, copies_for, mixture_counts, permute_index
from transforms.pack import pack_tokens
from transforms.split import assign_split
from transforms.tokenizer import (SPECIAL_TOKENS, TokenizerError, encode_document, load_tokenizer,
                                  tokenizer_info, train_sentencepiece, training_lines, wrap_line)

FRACTIONS = {"guidelines": 0.05, "papers": 0.03, "abstracts": 0.03, "replay": 0.0}


@pytest.fixture(scope="module")
def docs():
    return make_docs()


@pytest.fixture(scope="module")
def model(docs):
    return train_sentencepiece((d.text for d in docs), {"vocab_size": 500})


def test_split_fractions_and_stability():
    ids = [f"doc-{i}" for i in range(20000)]
    splits = [assign_split(i, "guidelines", FRACTIONS, 1234) for i in ids]
    share = splits.count("validation") / len(ids)
    assert 0.045 < share < 0.055
    assert all(assign_split(i, "replay", FRACTIONS, 1234) == "train" for i in ids[:2000])
    assert splits == [assign_split(i, "guidelines", FRACTIONS, 1234) for i in ids]
    other_seed = [assign_split(i, "guidelines", FRACTIONS, 99) for i in ids]
    assert other_seed != splits
    with pytest.raises(ValueError, match="guidelines"):
        assign_split("x", "guidelines", {"guidelines": 1.0}, 1)


def test_tokenizer_deterministic_round_trip_and_special_tokens(docs, model):
    assert train_sentencepiece((d.text for d in docs), {"vocab_size": 500}) == model
    sp = load_tokenizer(model)
    info = tokenizer_info(model)
    assert info["bos_id"] == sp.bos_id() and info["eos_id"] == sp.eos_id()
    assert set(info["special_tokens"]) == set(SPECIAL_TOKENS)
    text = "Dose [BIB_REF] Smith [/BIB_REF] [TABLE] a | b [/TABLE]\n\n  café ∑ 10mg\t"
    ids = encode_document(sp, text)
    assert ids[0] == sp.bos_id() and ids[-1] == sp.eos_id()
    assert sp.decode(ids[1:-1]) == text
    for tok in SPECIAL_TOKENS:
        assert sp.encode(tok) == [info["special_tokens"][tok]]


def test_long_lines_are_wrapped_not_skipped():
    line = ("word " * 3000).strip() + "é" * 500
    pieces = wrap_line(line, 1000)
    assert "".join(pieces) == line
    assert all(len(p.encode("utf-8")) <= 1000 for p in pieces)
    assert len(list(training_lines([line, "", "short"], 1000))) == len(pieces) + 1
    # A corpus made of one very long line still trains (sentencepiece alone would skip it and fail).
    model = train_sentencepiece([" ".join(f"tok{i % 97}" for i in range(20000))],
                                {"vocab_size": 400, "max_sentence_length": 2048})
    assert load_tokenizer(model).encode("tok12 tok3", out_type=str) == ["tok", "1", "2", "▁tok", "3"]


def test_tokenizer_errors():
    with pytest.raises(TokenizerError, match="no text"):
        train_sentencepiece(["", "  \n"], {})
    with pytest.raises(TokenizerError):
        load_tokenizer(b"not a model")


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


SHARES = {"guidelines": 0.25, "papers": 0.45, "abstracts": 0.2, "replay": 0.1}


@pytest.mark.parametrize("available", [
    {"guidelines": 10, "papers": 100, "abstracts": 20, "replay": 5},
    {"guidelines": 1234, "papers": 98765, "abstracts": 4321, "replay": 77},
    {"guidelines": 3, "papers": 2, "abstracts": 1, "replay": 1},
])
def test_mixture_counts_hit_shares_within_a_tenth_of_a_point(available):
    counts = mixture_counts(available, "shares", SHARES)
    total = sum(counts.values())
    for subset, share in SHARES.items():
        assert abs(counts[subset] / total - share) <= 0.001
    assert total >= sum(available.values())


def test_mixture_modes_and_errors():
    avail = {"papers": 100, "replay": 10}
    assert mixture_counts(avail, "natural") == avail
    assert mixture_counts(avail, "factors", factors={"replay": 2.5}) == {"papers": 100, "replay": 25}
    assert mixture_counts(avail, "shares", {"papers": 0.5, "replay": 0.5}, total_rows=40) == {"papers": 20,
                                                                                              "replay": 20}
    with pytest.raises(MixtureError, match="guidelines"):
        mixture_counts(avail, "shares", {"papers": 0.5, "guidelines": 0.5})


def test_permutation_is_a_bijection_and_copies_are_exact():
    for n in (1, 2, 3, 17, 64, 1000):
        perm = [permute_index(i, n, "seed:papers") for i in range(n)]
        assert sorted(perm) == list(range(n))
    assert [permute_index(i, 1000, "a") for i in range(10)] != [permute_index(i, 1000, "b") for i in range(10)]
    for n, target in ((10, 3), (10, 10), (10, 27), (7, 0)):
        assert sum(copies_for(p, n, target) for p in range(n)) == target


def test_meditron_preset_loads_and_mixes_exactly():
    from pathlib import Path

    from gap_pipeline.config import load_config
    preset = Path(__file__).resolve().parents[2] / "gap_pipeline" / "presets" / "meditron_gap_replay.yaml"
    cfg = load_config(preset)
    shares = cfg["mixture"]["shares"]
    # GAP-Replay: papers dominate, replay ~1%, guidelines ~0.2% of the train tokens.
    assert shares["papers"] > 0.85 and 0.005 < shares["replay"] < 0.01 and shares["guidelines"] < 0.005
    available = {"guidelines": 120, "abstracts": 5000, "papers": 40000, "replay": 300}
    counts = mixture_counts(available, cfg["mixture"]["mode"], shares, cfg["mixture"]["factors"])
    total = sum(counts.values())
    assert all(abs(counts[s] / total - shares[s]) <= 0.001 for s in shares)


def test_tokenizer_sample_is_the_smallest_hash_keys_up_to_the_cap(docs):
    from transforms.tokenizer import _SmallestKeysUpToChars, sample_key
    fn = _SmallestKeysUpToChars(5000)
    items = [(sample_key(d.id, 3), d.id, d.text[:5000]) for d in docs]
    # Two partial accumulators merged in either order give the same sample as one pass.
    half = len(items) // 2
    parts = []
    for chunk in (items[:half], items[half:]):
        acc = fn.create_accumulator()
        for item in chunk:
            acc = fn.add_input(acc, item)
        parts.append(acc)
    merged = fn.extract_output(fn.merge_accumulators(parts))
    merged_rev = fn.extract_output(fn.merge_accumulators(parts[::-1]))
    expected, used = [], 0
    for item in sorted(items):
        if used >= 5000:
            break
        expected.append(item)
        used += len(item[2])
    assert merged == merged_rev == expected
    assert sum(len(i[2]) for i in merged[:-1]) < 5000
