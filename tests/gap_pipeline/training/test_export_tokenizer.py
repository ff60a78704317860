"""`gap train --init-from` refuses a checkpoint whose tokenizer is not the corpus's; exports of a corpus
tokenized with a tokenizer.json ship that file."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gap_pipeline.training.config import ModelConfig, TrainConfigError
from gap_pipeline.training.export import checkpoint_tokenizer_problem, hf_config_dict, same_tokenizer
from testkit.hf_tokenizers import BOS, EOS, byte_level_bpe
from testkit.synthetic import make_corpus, train_tiny_tokenizer

TEXTS = ["the patient was given insulin twice a day", "renal function improved after therapy"] * 20


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory):
    root = tmp_path_factory.mktemp("tok")
    a, b = root / "a" / "tokenizer.json", root / "b" / "tokenizer.json"
    a.parent.mkdir()
    b.parent.mkdir()
    a.write_text(byte_level_bpe(TEXTS, vocab_size=300))
    b.write_text(byte_level_bpe(TEXTS + ["completely different words make other merges"] * 50, vocab_size=320))
    reformatted = root / "c" / "tokenizer.json"
    reformatted.parent.mkdir()
    reformatted.write_text(json.dumps(json.loads(a.read_text()), indent=4))   # same tokenizer, other bytes
    sp = root / "sp" / "tokenizer.model"
    sp.parent.mkdir()
    sp.write_bytes(train_tiny_tokenizer(128))
    return {"a": a, "b": b, "c": reformatted, "sp": sp}


def _checkpoint(folder: Path, *files: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = ModelConfig(dim=32, n_layers=1, n_heads=2, n_kv_heads=2, ffn_dim=64, vocab_size=512, max_seq_len=64)
    (folder / "config.json").write_text(json.dumps(hf_config_dict(cfg, bos_id=1, eos_id=2, dtype="float32")))
    for f in files:
        shutil.copyfile(f, folder / f.name)
    return folder


def test_checkpoint_tokenizer_problem(tokenizers, tmp_path):
    t = tokenizers
    assert same_tokenizer(t["a"], t["c"]) and not same_tokenizer(t["a"], t["b"])
    assert checkpoint_tokenizer_problem(_checkpoint(tmp_path / "same", t["c"]), t["a"]) is None
    problem = checkpoint_tokenizer_problem(_checkpoint(tmp_path / "other", t["b"]), t["a"])
    assert "tokenizer.json differs from the corpus tokenizer" in problem and "--tokenizer" in problem
    problem = checkpoint_tokenizer_problem(_checkpoint(tmp_path / "json_only", t["a"]), t["sp"])
    assert "has tokenizer.json and no tokenizer.model" in problem
    assert f"gap build --tokenizer {tmp_path / 'json_only' / 'tokenizer.json'}" in problem
    assert "differs" in checkpoint_tokenizer_problem(_checkpoint(tmp_path / "sp_other", t["sp"]),
                                                     _sp_other(tmp_path))
    assert checkpoint_tokenizer_problem(_checkpoint(tmp_path / "none"), t["a"]) is None   # nothing to compare


def _sp_other(tmp_path: Path) -> Path:
    path = tmp_path / "sp2" / "tokenizer.model"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(train_tiny_tokenizer(140))
    return path


def test_init_from_refuses_a_corpus_tokenized_otherwise(tokenizers, tmp_path):
    from gap_pipeline.training.data import load_corpus
    from gap_pipeline.training.loop import RunOptions, resolve_config

    corpus_dir = make_corpus(tmp_path / "corpus", train_rows=16, train_shards=1, with_tokenizer=False)
    shutil.copyfile(tokenizers["a"], corpus_dir / "tokenizer.json")
    manifest = json.loads((corpus_dir / "manifest.json").read_text())
    manifest["tokenizer"].update(file="tokenizer.json", kind="huggingface")
    (corpus_dir / "manifest.json").write_text(json.dumps(manifest))
    corpus = load_corpus(corpus_dir)
    assert corpus.tokenizer_path == corpus_dir / "tokenizer.json"
    wrong = _checkpoint(tmp_path / "llama", tokenizers["b"])
    with pytest.raises(TrainConfigError) as err:
        resolve_config(RunOptions(data=corpus_dir, out=tmp_path / "run", init_from=wrong), corpus)
    assert "not tokenized with this model's tokenizer" in str(err.value)
    right = _checkpoint(tmp_path / "llama_ok", tokenizers["c"])
    cfg = resolve_config(RunOptions(data=corpus_dir, out=tmp_path / "run", init_from=right), corpus)
    assert cfg.model.vocab_size == 512


def test_export_ships_the_corpus_tokenizer_json(tokenizers, tmp_path):
    import torch
    transformers = pytest.importorskip("transformers")
    from gap_pipeline.training.export import write_hf_export
    from gap_pipeline.training.model import Llama
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizers["a"]))
    bos, eos = tok.token_to_id(BOS), tok.token_to_id(EOS)
    cfg = ModelConfig(dim=32, n_layers=1, n_heads=2, n_kv_heads=2, ffn_dim=64, vocab_size=tok.get_vocab_size(),
                      max_seq_len=64)
    torch.manual_seed(0)
    out = write_hf_export(Llama(cfg).state_dict(), cfg, tmp_path / "hf", bos_id=bos, eos_id=eos,
                          tokenizer_path=tokenizers["a"])
    assert (out / "tokenizer.json").read_bytes() == tokenizers["a"].read_bytes()
    assert not (out / "tokenizer.model").exists()
    fast = transformers.AutoTokenizer.from_pretrained(out)
    assert (fast.bos_token_id, fast.eos_token_id) == (bos, eos)
    assert fast(TEXTS[0], add_special_tokens=False)["input_ids"] == tok.encode(TEXTS[0], add_special_tokens=False).ids
    # The export's own tokenizer is the corpus's: --init-from it passes the check.
    assert checkpoint_tokenizer_problem(out, tokenizers["a"]) is None
