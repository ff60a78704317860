"""Small synthetic corpora in the shard format of schemas/shard.py, for the trainer's tests.

Rows are arithmetic progressions modulo the vocabulary (next = previous + stride), a pattern a tiny
model learns in a few steps, so "loss goes down" is a real signal. A small sentencepiece model is
trained on made-up text so the export can ship a real tokenizer.model.
"""
from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from schemas.shard import token_shard_schema

SUBSETS = ("guidelines", "papers")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train_tiny_tokenizer(vocab_size: int) -> bytes:
    import sentencepiece as spm

    words = ["patient", "dose", "trial", "guideline", "therapy", "cohort", "risk", "outcome", "renal",
             "cardiac", "insulin", "sepsis", "screening", "biopsy", "tumour", "infection", "vaccine"]
    rng = np.random.default_rng(0)
    lines = [" ".join(rng.choice(words, size=12)) for _ in range(400)]
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=out, vocab_size=vocab_size,
                                   model_type="bpe", byte_fallback=False, bos_id=1, eos_id=2, unk_id=0,
                                   pad_id=-1, minloglevel=2, hard_vocab_limit=False)
    return out.getvalue()


def _rows(n: int, seq_len: int, vocab_size: int, rng: np.random.Generator) -> np.ndarray:
    starts = rng.integers(3, vocab_size, size=(n, 1))
    strides = rng.integers(1, 4, size=(n, 1))
    return (starts + strides * np.arange(seq_len + 1)) % vocab_size


def _write_shard(path: Path, rows: np.ndarray, subsets: list[str], seq_len: int, vocab_size: int,
                 batch_rows: int) -> None:
    schema = token_shard_schema(seq_len, vocab_size)
    dtype = np.uint16 if vocab_size <= 65535 else np.uint32
    path.parent.mkdir(parents=True, exist_ok=True)
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
        for start in range(0, len(rows), batch_rows):
            chunk = rows[start:start + batch_rows].astype(dtype)
            ids = pa.FixedSizeListArray.from_arrays(pa.array(chunk.reshape(-1), type=schema.field("input_ids").type.value_type),
                                                   seq_len + 1)
            n = len(chunk)
            names = subsets[start:start + batch_rows]
            batch = pa.record_batch([
                ids,
                pa.array(names, pa.string()),
                pa.array([[f"doc-{start + i}"] for i in range(n)], pa.list_(pa.string())),
                pa.array([[0]] * n, pa.list_(pa.int32())),
            ], schema=schema)
            writer.write_batch(batch)


def make_corpus(root: Path, *, seq_len: int = 32, vocab_size: int = 128, train_rows: int = 256,
                val_rows_per_subset: int = 16, train_shards: int = 2, batch_rows: int = 24, seed: int = 0,
                with_tokenizer: bool = True) -> Path:
    """Write root/{train,validation}/*.arrow, root/manifest.json and root/tokenizer.model."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    shards = []
    tok_sha = "0" * 64
    if with_tokenizer:
        model = train_tiny_tokenizer(vocab_size)
        (root / "tokenizer.model").parent.mkdir(parents=True, exist_ok=True)
        (root / "tokenizer.model").write_bytes(model)
        tok_sha = hashlib.sha256(model).hexdigest()
    per_shard = train_rows // train_shards
    for i in range(train_shards):
        rows = _rows(per_shard, seq_len, vocab_size, rng)
        subsets = [SUBSETS[j % len(SUBSETS)] for j in range(per_shard)]
        rel = f"train/train-{i:05d}.arrow"
        _write_shard(root / rel, rows, subsets, seq_len, vocab_size, batch_rows)
        shards.append({"path": rel, "split": "train", "rows": per_shard, "tokens": per_shard * (seq_len + 1),
                       "sha256": _sha256(root / rel)})
    val_rows = np.concatenate([_rows(val_rows_per_subset, seq_len, vocab_size, rng) for _ in SUBSETS])
    val_subsets = [s for s in SUBSETS for _ in range(val_rows_per_subset)]
    rel = "validation/validation-00000.arrow"
    _write_shard(root / rel, val_rows, val_subsets, seq_len, vocab_size, batch_rows)
    shards.append({"path": rel, "split": "validation", "rows": len(val_rows),
                   "tokens": len(val_rows) * (seq_len + 1), "sha256": _sha256(root / rel)})
    manifest = {
        "schema_version": 1, "config_hash": "synthetic",
        "tokenizer": {"seq_len": seq_len, "vocab_size": vocab_size, "sha256": tok_sha, "bos_id": 1, "eos_id": 2},
        "shards": shards,
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return root
