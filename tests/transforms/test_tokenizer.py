"""The SentencePiece tokenizer as plain functions (transforms/tokenizer.py); split, pack and mix: test_split.py,
test_pack.py, test_mix.py."""
from __future__ import annotations

import collections

import pytest

from testkit.shard_docs import make_docs
from transforms.tokenizer import (SPECIAL_TOKENS, TokenizerError, encode_document, load_tokenizer,
                                  tokenizer_info, train_sentencepiece, training_lines, wrap_line)


@pytest.fixture(scope="module")
def docs():
    return make_docs()


@pytest.fixture(scope="module")
def model(docs):
    return train_sentencepiece((d.text for d in docs), {"vocab_size": 500})


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


def _smallest_keys_by_sorting(items: list, cap: int) -> list:
    """The sample by its definition: every item sorted, taken while fewer than `cap` characters are taken."""
    expected, used = [], 0
    for item in sorted(items):
        if used >= cap:
            break
        expected.append(item)
        used += len(item[2])
    return expected


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
    assert merged == merged_rev == _smallest_keys_by_sorting(items, 5000)
    assert sum(len(i[2]) for i in merged[:-1]) < 5000


def test_the_streamed_sample_is_the_whole_sorted_answer_and_holds_about_twice_the_cap(docs, monkeypatch):
    from transforms import tokenizer
    items = [(tokenizer.sample_key(d.id, 5), d.id, d.text[:3000]) for d in docs] * 4  # many more than needed
    expected = _smallest_keys_by_sorting(items, 3000)
    held = []
    trim = tokenizer.smallest_keys_up_to_chars
    monkeypatch.setattr(tokenizer, "smallest_keys_up_to_chars",
                        lambda part, cap: held.append(sum(len(i[2]) for i in part)) or trim(part, cap))
    assert tokenizer.sample_smallest_keys(iter(items), 3000) == expected
    assert len(held) > 2 and max(held) <= 2 * 3000 + 3000  # trimmed as it goes: the cap twice, plus one text
    assert tokenizer.sample_smallest_keys(iter(items), 0) == []
