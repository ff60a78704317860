"""tokenizer.json from a sentencepiece model: same token ids as sentencepiece, loadable by AutoTokenizer."""
from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from gap_pipeline.training.export import _write_tokenizer
from gap_pipeline.training.hf_tokenizer import (TokenizerConversionError, bpe_merges, build_tokenizer,
                                                parse_model)
from transforms.tokenizer import train_sentencepiece

spm = pytest.importorskip("sentencepiece")
REPLAY = Path(__file__).resolve().parents[3] / "gap_pipeline" / "sample_src" / "replay.jsonl"

EDGE_CASES = [
    "Hello world 12345  double  spaces\n\nnew line\t tab and trailing spaces   ",
    "   leading spaces, then text",
    "Le patient présente une fièvre [BIB_REF]12[/BIB_REF] après 3 jours [TABLE]a | b[/TABLE].",
    "Ärztliche Leitlinie: Hypertonie – Blutdruck ≥ 140/90 mmHg; 血压 高; ضغط الدم; 😀 emoji",
    "A literal <s> and </s> and <unk> in the text is just text.",
    "",
    " ",
    "\u2581 a visible-space character typed by hand",
]


def _replay_texts() -> list[str]:
    return [json.loads(line)["text"] for line in REPLAY.read_text(encoding="utf-8").splitlines() if line.strip()]


def _train(lines: list[str], **settings) -> bytes:
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=out, bos_id=1, eos_id=2, unk_id=0,
                                   pad_id=-1, minloglevel=2, hard_vocab_limit=False, num_threads=1, **settings)
    return out.getvalue()


@pytest.fixture(scope="module")
def models() -> dict[str, bytes]:
    """Our pipeline's tokenizer settings, and Llama-2's (dummy prefix, no user symbols), on real-ish text."""
    texts = _replay_texts()
    lines = [line for text in texts for line in text.splitlines() if line.strip()]
    return {
        "ours": train_sentencepiece(texts, {"vocab_size": 800}),
        "llama2-style": _train(lines, vocab_size=800, model_type="bpe", byte_fallback=True,
                               normalization_rule_name="identity", remove_extra_whitespaces=False,
                               add_dummy_prefix=True, split_digits=True),
        "default-nfkc": _train(lines, vocab_size=800, model_type="bpe", byte_fallback=True),
        "unigram": _train(lines, vocab_size=800, model_type="unigram", byte_fallback=True),
    }


def _assert_same_ids(model_bytes: bytes, texts: list[str]) -> None:
    sp = spm.SentencePieceProcessor()
    sp.LoadFromSerializedProto(model_bytes)
    tok = build_tokenizer(model_bytes, bos_id=sp.bos_id(), add_bos=False)
    for text in texts:
        ours = tok.encode(text).ids
        assert ours == sp.encode(text), f"ids differ on {text[:80]!r}"
        assert tok.decode(ours, skip_special_tokens=False) == sp.decode(ours), f"decode differs on {text[:80]!r}"


@pytest.mark.parametrize("name", ["ours", "llama2-style", "default-nfkc"])
def test_ids_and_decoding_match_sentencepiece(models, name):
    texts = _replay_texts() + EDGE_CASES
    _assert_same_ids(models[name], texts)
    # Round trip where sentencepiece has one (identity normalisation, byte fallback; a typed U+2581
    # comes back as a space there too).
    if name == "ours":
        tok = build_tokenizer(models[name], bos_id=1, add_bos=False)
        for text in (t for t in texts if "\u2581" not in t):
            assert tok.decode(tok.encode(text).ids) == text


def test_ids_match_on_real_multilingual_and_medical_text(realdata):
    files = sorted((realdata / "4-multilingual-langid").rglob("*.txt"))
    files = files[::max(1, len(files) // 80)]     # every corpus there: general and clinical, many scripts
    # (a clone without ../shared has only the bundled Spanish clinical cases: ids must still match)
    texts = []
    for path in files:
        try:
            texts.append(path.read_text(encoding="utf-8")[:4000])
        except UnicodeDecodeError:
            continue
    assert len(texts) >= 10
    # Trained on half, compared on all: the other half exercises byte fallback and rare merges.
    model = train_sentencepiece(texts[::2], {"vocab_size": 3000, "character_coverage": 0.995})
    _assert_same_ids(model, texts)


def test_merges_follow_piece_scores(models):
    parsed = parse_model(models["ours"])
    merges = bpe_merges(parsed)
    rank = {piece.text: i for i, piece in enumerate(parsed.pieces)}
    merged_ids = [rank[left + right] for left, right in merges]
    assert merged_ids == sorted(merged_ids)       # BPE pieces are stored best score first
    assert len(merges) >= sum(1 for p in parsed.pieces if p.type == 1 and len(p.text) > 1)


def test_parse_model_reads_the_settings(models):
    ours, llama = parse_model(models["ours"]), parse_model(models["llama2-style"])
    assert (ours.add_dummy_prefix, ours.remove_extra_whitespaces, ours.byte_fallback) == (False, False, True)
    assert (llama.add_dummy_prefix, llama.remove_extra_whitespaces) == (True, False)
    assert "[BIB_REF]" in {p.text for p in ours.pieces if p.type == 4}


def test_bad_models_are_refused_with_a_reason(models):
    with pytest.raises(TokenizerConversionError, match="truncated"):
        parse_model(models["ours"][:-7])
    with pytest.raises(TokenizerConversionError, match="no pieces"):
        parse_model(b"")
    with pytest.raises(TokenizerConversionError, match="unigram"):
        build_tokenizer(models["unigram"], bos_id=1)
    mixed = _train([line for text in _replay_texts() for line in text.splitlines() if line.strip()],
                   vocab_size=600, model_type="bpe", user_defined_symbols=["[TABLE]"])
    with pytest.raises(TokenizerConversionError, match="dummy prefix"):
        build_tokenizer(mixed, bos_id=1)


def test_export_loads_with_autotokenizer(models, tmp_path):
    transformers = pytest.importorskip("transformers")
    model_path = tmp_path / "tokenizer.model"
    model_path.write_bytes(models["ours"])
    out = tmp_path / "hf"
    out.mkdir()
    _write_tokenizer(model_path, out, bos_id=1, eos_id=2, max_len=512)
    tok = transformers.AutoTokenizer.from_pretrained(str(out))
    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    for text in _replay_texts()[:5] + EDGE_CASES:
        ids = tok(text)["input_ids"]
        assert ids == [sp.bos_id(), *sp.encode(text)]      # BOS first, then sentencepiece's ids
        assert tok.decode(ids, skip_special_tokens=True) == sp.decode(ids[1:])
    assert (tok.bos_token_id, tok.eos_token_id) == (1, 2)
    assert tok.model_max_length == 512


def test_export_without_exact_conversion_keeps_tokenizer_model_only(models, tmp_path, caplog):
    model_path = tmp_path / "tokenizer.model"
    model_path.write_bytes(models["unigram"])
    out = tmp_path / "hf"
    out.mkdir()
    (out / "tokenizer.json").write_text("{}")     # stale file from an earlier export must go
    with caplog.at_level(logging.WARNING):
        _write_tokenizer(model_path, out, bos_id=1, eos_id=2, max_len=512)
    assert not (out / "tokenizer.json").exists()
    assert (out / "tokenizer.model").read_bytes() == models["unigram"]
    assert json.loads((out / "tokenizer_config.json").read_text())["tokenizer_class"] == "LlamaTokenizer"
    assert "no tokenizer.json" in caplog.text
