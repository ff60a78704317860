"""Training data: the corpus manifest, memory-mapped token shards, a global sampler and a batch loader.

Shards (schemas/shard.py) are uncompressed Arrow IPC stream files. We memory-map them and view the
`input_ids` column as numpy arrays without copying; the only copy is gathering one batch's rows.

Who reads what: every rank computes the same global sample order from the seed (a permutation per
epoch, seeded by a hash of seed and epoch) and takes its own slice of each global batch, so no rank
sees a sample twice and nothing needs to be communicated. The data state is the number of samples
consumed by all ranks together plus the hash of the manifest; resuming on other data is refused.
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.checksum import sha256_file
from schemas.manifest import read_manifest
from schemas.shard import validate_shard_schema


class DataError(ValueError):
    """The corpus folder, its manifest or a shard is unusable (the message says which and why)."""


class DataMismatchError(DataError):
    """A checkpoint was trained on other data (or another sample order) than the one given now."""


# ---------------------------------------------------------------------------------------------- manifest

@dataclass(frozen=True)
class Corpus:
    root: Path
    seq_len: int
    vocab_size: int
    bos_id: int
    eos_id: int
    manifest_hash: str
    tokenizer_path: Path | None
    train_shards: tuple[Path, ...]
    validation_shards: tuple[Path, ...]
    shard_rows: dict[str, int]          # path relative to root -> rows, as the manifest says
    shard_sha256: dict[str, str | None] = None   # path relative to root -> sha256, as the manifest says


def manifest_data_hash(manifest: dict[str, Any]) -> str:
    """sha256 over what defines the training data: tokenizer and every shard's path, split, rows and
    sha256. Other manifest fields (accounting, report numbers) may change without changing the data."""
    shards = sorted(
        ({k: s.get(k) for k in ("path", "split", "rows", "sha256")} for s in manifest["shards"]),
        key=lambda s: str(s["path"]),
    )
    tok = manifest["tokenizer"]
    payload = {"tokenizer": {k: tok.get(k) for k in ("seq_len", "vocab_size", "sha256", "bos_id", "eos_id")},
               "shards": shards}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def load_corpus(root: str | Path) -> Corpus:
    root = Path(root)
    path = root / "manifest.json"
    manifest = read_manifest(root, DataError)
    for key in ("tokenizer", "shards"):
        if key not in manifest:
            raise DataError(f"{path} lacks {key!r}")
    tok = manifest["tokenizer"]
    for key in ("seq_len", "vocab_size", "bos_id", "eos_id"):
        if key not in tok:
            raise DataError(f"{path}: tokenizer lacks {key!r}")
    train, val, rows, digests = [], [], {}, {}
    if not isinstance(manifest["shards"], list):
        raise DataError(f"{path}: 'shards' must be a list")
    for i, shard in enumerate(manifest["shards"]):
        if not isinstance(shard, dict):
            raise DataError(f"{path}: shard #{i} must be an object")
        for key in ("path", "split", "rows"):
            if key not in shard:
                raise DataError(f"{path}: shard #{i} lacks {key!r}")
        rel = shard["path"]
        why = _unsafe_path(root, rel)
        if why:
            raise DataError(f"{path}: shard #{i} path {rel!r} is {why}; refusing to read it")
        if not isinstance(shard["rows"], int) or isinstance(shard["rows"], bool) or shard["rows"] < 0:
            raise DataError(f"{path}: shard #{i} {rel!r}: rows must be a count, got {shard['rows']!r}")
        file = root / rel
        if not file.is_file():
            raise DataError(f"{path}: shard #{i} {rel!r} is missing on disk")
        rows[rel] = shard["rows"]
        digests[rel] = shard.get("sha256") if isinstance(shard.get("sha256"), str) else None
        {"train": train, "validation": val}.get(shard["split"], []).append(file)
    if not train:
        raise DataError(f"{path}: no train shards listed")
    tok_file = tok.get("path") or tok.get("file") or "tokenizer.model"
    tokenizer_path = root / tok_file if (root / tok_file).is_file() else None
    return Corpus(root=root, seq_len=int(tok["seq_len"]), vocab_size=int(tok["vocab_size"]),
                  bos_id=int(tok["bos_id"]), eos_id=int(tok["eos_id"]),
                  manifest_hash=manifest_data_hash(manifest), tokenizer_path=tokenizer_path,
                  train_shards=tuple(sorted(train)), validation_shards=tuple(sorted(val)), shard_rows=rows,
                  shard_sha256=digests)


def _unsafe_path(root: Path, rel: Any) -> str | None:
    """Why a manifest shard path may not be opened (None: a plain path inside the corpus folder)."""
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        return "not a path"
    if rel.startswith(("/", "\\")) or "://" in rel or (len(rel) > 1 and rel[1] == ":"):
        return "absolute"
    if "\\" in rel or any(part in ("", ".", "..") for part in rel.split("/")):
        return "not a plain relative path ('..', '.', '//' or a backslash)"
    real_root = os.path.realpath(root)
    if os.path.commonpath([real_root, os.path.realpath(root / rel)]) != real_root:
        return "a link that leads out of the corpus folder"
    return None


def verify_shards(corpus: Corpus) -> list[str]:
    """One line per shard whose bytes are not the ones the manifest recorded (flipped byte, truncated,
    replaced). Reads every shard once; `gap train --no-verify-shards` skips it for trusted storage."""
    from concurrent.futures import ThreadPoolExecutor

    def check(file: Path) -> str | None:
        rel = file.relative_to(corpus.root).as_posix()
        expected = (corpus.shard_sha256 or {}).get(rel)
        if expected is None:
            return (f"shard {rel}: the manifest records no sha256, so it cannot be checked "
                    "(pass --no-verify-shards to train on it anyway)")
        try:
            actual = sha256_file(file)
        except OSError as exc:
            return f"shard {rel}: unreadable ({exc})"
        if actual != expected:
            return (f"shard {rel}: sha256 {actual} differs from the manifest's {expected} (damaged, truncated or "
                    f"replaced: {file.stat().st_size} bytes on disk); rebuild or copy it again, or pass "
                    "--no-verify-shards to skip this check")
        return None

    # hashlib releases the GIL on large blocks: a few threads hash several shards at once (~350 MB/s each).
    files = corpus.train_shards + corpus.validation_shards
    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1, len(files)))) as pool:
        return [p for p in pool.map(check, files) if p]


# ---------------------------------------------------------------------------------------------- shards

def open_shard(path: str | Path, seq_len: int) -> tuple[list[np.ndarray], pa.ChunkedArray, Any]:
    """Memory-map one shard. Returns numpy views [rows, seq_len + 1] (one per record batch; no copies),
    its `subset` column, and the memory map (keep it alive as long as the views)."""
    try:
        source = pa.memory_map(str(path), "r")
        table = pa.ipc.open_stream(source).read_all()
    except (pa.ArrowException, OSError, ValueError) as exc:   # junk, truncated, unreadable
        raise DataError(f"{path}: not an Arrow IPC stream file, or cut short ({' '.join(str(exc).split())})") from exc
    try:
        validate_shard_schema(table.schema, seq_len)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from exc
    views = []
    for chunk in table.column("input_ids").chunks:
        if len(chunk) == 0:
            continue
        if chunk.null_count:
            raise DataError(f"{path}: input_ids holds nulls")
        flat = chunk.flatten().to_numpy(zero_copy_only=True)   # raises rather than copy
        views.append(flat.reshape(len(chunk), seq_len + 1))
    return views, table.column("subset"), source


class TokenDataset:
    """Map-style dataset over memory-mapped shards: item i is row i as a uint16/uint32 numpy view."""

    def __init__(self, paths: tuple[Path, ...] | list[Path], seq_len: int, vocab_size: int,
                 expected_rows: dict[str, int] | None = None, root: Path | None = None):
        self.seq_len, self.vocab_size = seq_len, vocab_size
        self._segments: list[np.ndarray] = []
        self._maps: list[Any] = []
        subsets: list[pa.ChunkedArray] = []
        for path in paths:
            views, subset, mm = open_shard(path, seq_len)
            rows = sum(len(v) for v in views)
            if expected_rows is not None and root is not None:
                rel = str(Path(path).relative_to(root))
                if rel in expected_rows and expected_rows[rel] != rows:
                    raise DataError(f"{path}: holds {rows} rows but the manifest says {expected_rows[rel]}")
            self._segments.extend(views)
            self._maps.append(mm)
            subsets.append(subset)
        self._starts = np.cumsum([0] + [len(s) for s in self._segments])
        self._subset_chunks = [c for col in subsets for c in col.chunks]

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, index: int) -> np.ndarray:
        if not 0 <= index < len(self):
            raise IndexError(index)
        seg = int(np.searchsorted(self._starts, index, side="right") - 1)
        return self._segments[seg][index - self._starts[seg]]

    def gather(self, indices: np.ndarray) -> np.ndarray:
        """Rows `indices` as one int64 array [len, seq_len + 1] (the one copy the loader makes)."""
        indices = np.asarray(indices, dtype=np.int64)
        out = np.empty((len(indices), self.seq_len + 1), dtype=np.int64)
        segs = np.searchsorted(self._starts, indices, side="right") - 1
        for seg in np.unique(segs):
            mask = segs == seg
            out[mask] = self._segments[seg][indices[mask] - self._starts[seg]]
        if len(out) and int(out.max()) >= self.vocab_size:
            raise DataError(f"token id {int(out.max())} >= vocab_size {self.vocab_size}: shards and manifest disagree")
        return out

    def rows_by_subset(self) -> dict[str, np.ndarray]:
        """Global row indices of each subset, in shard order."""
        result: dict[str, list[np.ndarray]] = {}
        offset = 0
        for chunk in self._subset_chunks:
            for value in pc.unique(chunk).to_pylist():
                hits = np.flatnonzero(pc.equal(chunk, value).to_numpy(zero_copy_only=False))
                result.setdefault(value, []).append(hits + offset)
            offset += len(chunk)
        return {k: np.concatenate(v) for k, v in sorted(result.items())}


# ---------------------------------------------------------------------------------------------- sampler

def _epoch_seed(seed: int, epoch: int) -> int:
    return int.from_bytes(hashlib.sha256(f"gap-train:{seed}:{epoch}".encode()).digest()[:8], "little")


class GlobalSampler:
    """The global sample order: position p (counted over all ranks since the start) -> row id.

    Epoch e = p // n is a permutation of all rows seeded by sha256(seed, e) (or the shard order when
    shuffle is off), so within an epoch every row is used exactly once."""

    def __init__(self, n_rows: int, seed: int, shuffle: bool = True):
        if n_rows < 1:
            raise DataError("no training rows")
        self.n_rows, self.seed, self.shuffle = n_rows, seed, shuffle
        self._epoch, self._order = -1, None

    def _epoch_order(self, epoch: int) -> np.ndarray:
        if epoch != self._epoch:
            if self.shuffle:
                self._order = np.random.Generator(np.random.PCG64(_epoch_seed(self.seed, epoch))).permutation(self.n_rows)
            else:
                self._order = np.arange(self.n_rows)
            self._epoch = epoch
        return self._order

    def positions_to_rows(self, positions: np.ndarray) -> np.ndarray:
        out = np.empty(len(positions), dtype=np.int64)
        epochs = positions // self.n_rows
        for epoch in np.unique(epochs):
            mask = epochs == epoch
            out[mask] = self._epoch_order(int(epoch))[positions[mask] % self.n_rows]
        return out

    def step_rows(self, consumed: int, rank: int, world: int, micro_batch: int, accum: int) -> list[np.ndarray]:
        """Row ids for one optimizer step on `rank`: `accum` micro-batches of `micro_batch` rows.
        Micro-step m of rank r takes positions consumed + (m * world + r) * micro_batch + [0, micro_batch)."""
        result = []
        for m in range(accum):
            start = consumed + (m * world + rank) * micro_batch
            result.append(self.positions_to_rows(np.arange(start, start + micro_batch, dtype=np.int64)))
        return result


def global_batch_size(world: int, micro_batch: int, accum: int) -> int:
    return world * micro_batch * accum


# ---------------------------------------------------------------------------------------------- data state

def data_state(consumed: int, corpus: Corpus, seed: int, shuffle: bool) -> dict[str, Any]:
    return {"consumed_samples": int(consumed), "manifest_hash": corpus.manifest_hash,
            "seed": int(seed), "shuffle": bool(shuffle)}


def check_resume_data(saved: dict[str, Any], corpus: Corpus, seed: int, shuffle: bool, where: str) -> int:
    """Refuse to resume on other data or another sample order; returns the consumed-sample count."""
    if saved.get("manifest_hash") != corpus.manifest_hash:
        raise DataMismatchError(
            f"refusing to resume: the checkpoint {where} was trained on data with manifest hash "
            f"{saved.get('manifest_hash')}, but {corpus.root}/manifest.json has hash {corpus.manifest_hash} "
            "(different shards or tokenizer). Resuming would skip or repeat samples. Point --data at the "
            "corpus the run started with, or start a new run (another --out, or --init-from an export).")
    if saved.get("seed") != seed or saved.get("shuffle") != shuffle:
        raise DataMismatchError(
            f"refusing to resume: the checkpoint {where} used seed={saved.get('seed')} shuffle={saved.get('shuffle')}, "
            f"this run asks for seed={seed} shuffle={shuffle}; the sample order would change and samples repeat.")
    return int(saved["consumed_samples"])


# ---------------------------------------------------------------------------------------------- loader

class BatchLoader:
    """Yields one optimizer step's micro-batches [(inputs, labels), ...] for this rank, as torch tensors
    on `device`. With prefetch, one long-lived thread gathers the next step's rows while this step
    trains (numpy copies release the GIL), so the training thread only picks up a finished batch."""

    def __init__(self, dataset: TokenDataset, sampler: GlobalSampler, *, rank: int, world: int,
                 micro_batch: int, accum: int, consumed: int, device: Any, prefetch: bool = True):
        self.dataset, self.sampler = dataset, sampler
        self.rank, self.world, self.micro_batch, self.accum = rank, world, micro_batch, accum
        self.consumed = consumed
        self.device = device
        self.prefetch = prefetch
        self._requests: queue.Queue = queue.Queue()
        self._results: queue.Queue = queue.Queue()
        self._worker: threading.Thread | None = None
        self._pending = False

    @property
    def step_samples(self) -> int:
        return global_batch_size(self.world, self.micro_batch, self.accum)

    def _build(self, consumed: int) -> list[np.ndarray]:
        rows = self.sampler.step_rows(consumed, self.rank, self.world, self.micro_batch, self.accum)
        return [self.dataset.gather(r) for r in rows]

    def _work(self) -> None:
        while True:
            consumed = self._requests.get()
            if consumed is None:
                return
            try:
                self._results.put(("ok", self._build(consumed)))
            except BaseException as exc:  # handed to the training thread in next_step()
                self._results.put(("error", exc))

    def _request(self, consumed: int) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, name="gap-batch-prefetch", daemon=True)
            self._worker.start()
        self._requests.put(consumed)
        self._pending = True

    def next_step(self) -> list[tuple[Any, Any]]:
        import torch

        if self._pending:
            status, value = self._results.get()
            self._pending = False
            if status == "error":
                raise value
            arrays = value
        else:
            arrays = self._build(self.consumed)
        self.consumed += self.step_samples
        if self.prefetch:
            self._request(self.consumed)
        pin = getattr(self.device, "type", str(self.device)) == "cuda"
        out = []
        for arr in arrays:
            t = torch.from_numpy(arr)
            if pin:
                t = t.pin_memory()
            t = t.to(self.device, non_blocking=True)
            out.append((t[:, :-1], t[:, 1:]))
        return out

    def close(self) -> None:
        """Stop the prefetch thread: a daemon thread still running at interpreter exit can abort it."""
        if self._worker is not None:
            self._requests.put(None)
            self._worker.join()
            self._worker = None
            self._pending = False

    def __iter__(self) -> Iterator[list[tuple[Any, Any]]]:
        while True:
            yield self.next_step()
