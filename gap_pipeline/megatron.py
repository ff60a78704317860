"""`gap export OUT --format megatron`: the train and validation token streams as Megatron indexed datasets.

Megatron-LM / NeMo read a pair of files per dataset: PREFIX.bin (the token ids, back to back) and PREFIX.idx
(the index). The .idx layout, as megatron-core's `_IndexWriter` writes it (megatron/core/datasets/
indexed_dataset.py): the 9-byte magic b"MMIDIDX\\x00\\x00", version (<Q, 1), dtype code (<B: 8 uint16,
4 int32), sequence count (<Q), document count (<Q, sequences + 1), then int32 sequence lengths, int64 byte
offsets of the sequences in .bin, and int64 document indices (the sequence index where each document
starts, plus the end).

What a sequence is: the stream is the Arrow shards' rows in the order our trainer reads them (shards by
path, rows in file order: the mixture, shuffle and upsampling already applied), cut at every row start and
every document start the rows record (`doc_starts`). So each Megatron sequence is one document's tokens
inside one row, and is one Megatron document ("one document per sequence", as Megatron's
preprocess_data.py writes GPT data): a sequence that starts a document begins with BOS; a long document that
spans rows is cut where the rows are cut, exactly as the shards hold it. The .bin holds exactly the shards'
tokens, in the same order. Megatron has no uint32 code: ids of vocabularies above 65,535 are written int32.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from gap_pipeline.export import check_destination
from schemas.manifest import read_manifest

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
DTYPE_CODES = {np.dtype(np.uint16): 8, np.dtype(np.int32): 4}


class MegatronExportError(RuntimeError):
    """The corpus cannot be exported (the message names the file and the problem)."""


MEGATRON_FILES = ("train.bin", "train.idx", "validation.bin", "validation.idx", "megatron.json")


def row_sequence_lengths(table: pa.Table, width: int) -> np.ndarray:
    """Lengths of the sequences of one shard: its rows cut at each row start and each document start."""
    n_rows = table.num_rows
    cuts = [np.arange(n_rows, dtype=np.int64) * width]
    if "doc_starts" in table.schema.names:
        starts = pc.list_flatten(table.column("doc_starts")).to_numpy(zero_copy_only=False).astype(np.int64)
        parents = pc.list_parent_indices(table.column("doc_starts")).to_numpy(zero_copy_only=False).astype(np.int64)
        inside = (starts > 0) & (starts < width)   # <= 0: the document began at or before the row start
        cuts.append(parents[inside] * width + starts[inside])
    bounds = np.unique(np.concatenate(cuts))
    return np.diff(np.append(bounds, n_rows * width))


def _read_shard(path: Path) -> pa.Table:
    try:
        with pa.memory_map(str(path), "r") as source:
            return pa.ipc.open_stream(source).read_all()
    except (OSError, pa.ArrowInvalid) as exc:
        raise MegatronExportError(f"{path}: not a readable Arrow IPC stream shard ({exc})") from exc


# Sequence lengths per chunk when the index is written: the index's arrays never sit in memory whole
# (at GAP-Replay's size they are ~45M sequences, ~0.9 GB), only one chunk of them and one shard.
INDEX_CHUNK = 1 << 20


def write_indexed_dataset(prefix: Path, shards: list[Path], width: int, dtype: np.dtype) -> dict[str, Any]:
    """Write PREFIX.bin and PREFIX.idx from the shards (in the given order); temp files, then renamed. The
    sequence lengths go to a temp file while the tokens are written, and the index is written from it in
    chunks, so memory holds one shard and one chunk whatever the corpus size."""
    bin_path, idx_path = prefix.with_suffix(".bin"), prefix.with_suffix(".idx")
    tmp_bin, tmp_idx, tmp_lengths = (Path(f"{bin_path}.tmp"), Path(f"{idx_path}.tmp"),
                                     Path(f"{prefix}.lengths.tmp"))
    digest = hashlib.sha256()
    sequences = tokens = 0
    try:
        with open(tmp_bin, "wb") as f, open(tmp_lengths, "wb") as lengths:
            for path in shards:
                table = _read_shard(path)
                if "input_ids" not in table.schema.names:
                    raise MegatronExportError(f"{path}: no input_ids column")
                for chunk in table.column("input_ids").chunks:
                    ids = chunk.flatten().to_numpy(zero_copy_only=False)
                    if ids.size and dtype == np.int32 and int(ids.max()) > np.iinfo(np.int32).max:
                        raise MegatronExportError(f"{path}: token id {int(ids.max())} does not fit Megatron's int32")
                    data = ids.astype(dtype, copy=False).tobytes()
                    f.write(data)
                    digest.update(data)
                shard_lengths = row_sequence_lengths(table, width).astype(np.int32)
                lengths.write(shard_lengths.tobytes(order="C"))
                sequences += len(shard_lengths)
        with open(tmp_idx, "wb") as f:
            f.write(MAGIC)
            f.write(struct.pack("<Q", VERSION))
            f.write(struct.pack("<B", DTYPE_CODES[dtype]))
            f.write(struct.pack("<Q", sequences))
            f.write(struct.pack("<Q", sequences + 1))   # one document per sequence
            for chunk in _length_chunks(tmp_lengths):
                f.write(chunk.tobytes(order="C"))
            offset = 0   # pointers: each sequence's byte offset in the .bin
            for chunk in _length_chunks(tmp_lengths):
                ends = np.cumsum(chunk.astype(np.int64)) * dtype.itemsize + offset
                f.write(np.concatenate(([offset], ends[:-1])).astype(np.int64).tobytes(order="C"))
                offset = int(ends[-1])
                tokens += int(chunk.sum(dtype=np.int64))
            for first in range(0, sequences + 1, INDEX_CHUNK):  # the document index: 0 .. sequences
                f.write(np.arange(first, min(first + INDEX_CHUNK, sequences + 1), dtype=np.int64).tobytes(order="C"))
        os.replace(tmp_bin, bin_path)
        os.replace(tmp_idx, idx_path)
    finally:
        for tmp in (tmp_bin, tmp_idx, tmp_lengths):
            tmp.unlink(missing_ok=True)
    return {"prefix": str(prefix), "sequences": sequences, "documents": sequences,
            "tokens": tokens, "dtype": dtype.name, "bin_sha256": digest.hexdigest()}


def _length_chunks(path: Path):
    """The int32 sequence lengths in `path`, INDEX_CHUNK at a time."""
    with open(path, "rb") as f:
        while True:
            data = f.read(INDEX_CHUNK * 4)
            if not data:
                return
            yield np.frombuffer(data, dtype=np.int32)


def export_megatron(out_dir: str | Path, dest: str | Path | None = None) -> dict[str, Any]:
    """DEST/{train,validation}.{bin,idx} (default DEST: OUT/export/megatron) and DEST/megatron.json."""
    out = Path(out_dir)
    manifest_path = out / "manifest.json"
    manifest = read_manifest(out, MegatronExportError)
    try:
        tok = manifest["tokenizer"]
        width, vocab = int(tok["seq_len"]) + 1, int(tok["vocab_size"])
        shards = manifest["shards"]
    except (KeyError, TypeError, ValueError) as exc:
        raise MegatronExportError(f"{manifest_path}: not a gap manifest ({type(exc).__name__}: {exc})") from exc
    dtype = np.dtype(np.uint16) if vocab <= 65535 else np.dtype(np.int32)
    dest = Path(dest) if dest else out / "export" / "megatron"
    check_destination(dest, MEGATRON_FILES, MegatronExportError)
    dest.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"format": "megatron-indexed-dataset", "seq_len": width - 1, "vocab_size": vocab,
                               "bos_id": tok.get("bos_id"), "eos_id": tok.get("eos_id"),
                               "tokenizer": tok.get("file"), "tokenizer_sha256": tok.get("sha256"), "splits": {}}
    for split in ("train", "validation"):
        paths = sorted(str(s["path"]) for s in shards if s.get("split") == split and int(s.get("rows", 0)) > 0)
        missing = [p for p in paths if not (out / p).is_file()]
        if missing:
            raise MegatronExportError(f"{out / missing[0]}: shard listed in manifest.json is missing")
        if not paths:
            continue
        summary["splits"][split] = write_indexed_dataset(dest / split, [out / p for p in paths], width, dtype)
    args = []
    if "train" in summary["splits"]:
        args += ["--train-data-path", str(dest / "train")]
    if "validation" in summary["splits"]:
        args += ["--valid-data-path", str(dest / "validation")]
    summary["megatron_args"] = " ".join(args + ["--seq-length", str(width - 1)])
    (dest / "megatron.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return summary
