"""Replay: general-domain text from any fsspec path, sampled deterministically to a token budget.

Inputs are JSON lines (optionally compressed: .gz, .bz2, .zst... as fsspec infers), Parquet, or Arrow
(IPC file or stream), on any fsspec filesystem (local, gs://, s3://, https://). Every row gets a
priority `sha256(seed, row locator)` (the locator is the row's id field when it has one, else
path#row), rows are taken in priority order while the estimated tokens fit the budget, and the
chosen rows are emitted in file order. Same files + seed + budget => the same sample, whatever the
order the paths are listed in.
"""
from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timezone
from typing import Any, Iterator

import fsspec
import numpy as np
import pyarrow as pa
import pyarrow.ipc
import pyarrow.parquet as pq

from schemas.jsonl import jsonl_stream_lines
from schemas.raw import RawRecord

_ARROW_SUFFIXES = (".arrow", ".feather", ".ipc")


def _format(path: str) -> str:
    name = path.lower()
    for suffix in (".gz", ".bz2", ".xz", ".zst", ".lz4"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(_ARROW_SUFFIXES):
        return "arrow"
    if name.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    raise ValueError(f"replay: cannot tell the format of {path} (expected .jsonl/.json, .parquet, .arrow)")


def iter_rows(path: str, *, batch_rows: int = 4096) -> Iterator[dict[str, Any]]:
    """Rows of one file as dicts, streamed."""
    kind = _format(path)
    if kind == "jsonl":
        with fsspec.open(path, "rt", encoding="utf-8", compression="infer") as f:
            for n, line in jsonl_stream_lines(f):
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"replay: {path} line {n} is not JSON: {exc}") from exc
                yield row if isinstance(row, dict) else {"text": row}
        return
    with fsspec.open(path, "rb") as f:
        if kind == "parquet":
            for batch in pq.ParquetFile(f, pre_buffer=False).iter_batches(batch_size=batch_rows, use_threads=False):
                yield from batch.to_pylist()
            return
        data = f.read()
    try:
        reader = pa.ipc.open_file(pa.BufferReader(data))
        for i in range(reader.num_record_batches):
            yield from reader.get_batch(i).to_pylist()
    except pa.ArrowInvalid:
        with pa.ipc.open_stream(pa.BufferReader(data)) as stream:
            for batch in stream:
                yield from batch.to_pylist()


def expand_paths(paths: list[str]) -> list[str]:
    """Glob patterns expanded through fsspec, sorted so the sample never depends on listing order."""
    out: list[str] = []
    for path in paths:
        fs, _, found = fsspec.get_fs_token_paths(path)
        protocol = fs.protocol[0] if isinstance(fs.protocol, (tuple, list)) else fs.protocol
        out.extend(p if protocol in ("file", "local") or "://" in p else f"{protocol}://{p}" for p in found)
    return sorted(set(out))


def _priority(seed: int, locator: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}\x00{locator}".encode("utf-8")).digest()[:8], "big")


def estimate_tokens(text: str, chars_per_token: float) -> int:
    return max(1, math.ceil(len(text) / chars_per_token))


def sample_replay(paths: list[str], *, token_budget: int, seed: int, text_field: str = "text", id_field: str = "id",
                  chars_per_token: float = 4.0, source: str = "replay", license: str = "unknown") -> Iterator[RawRecord]:
    """RawRecords (content_type json) of the rows chosen to fill `token_budget` (estimated tokens)."""
    files = expand_paths(paths)
    priorities: list[int] = []
    tokens: list[int] = []
    for path in files:  # pass 1: priority and size of every row
        for n, row in enumerate(iter_rows(path)):
            text = row.get(text_field)
            if not isinstance(text, str) or not text.strip():
                priorities.append(2**64 - 1)  # never chosen
                tokens.append(0)
                continue
            locator = str(row.get(id_field) or f"{path}#{n}")
            priorities.append(_priority(seed, locator))
            tokens.append(estimate_tokens(text, chars_per_token))
    prio = np.array(priorities, dtype=np.uint64)
    size = np.array(tokens, dtype=np.int64)
    order = np.lexsort((np.arange(len(prio)), prio))
    chosen = np.zeros(len(prio), dtype=bool)
    used = 0
    for index in order:
        if size[index] == 0:
            continue
        if used + size[index] > token_budget:
            break  # priority order is the sampling order: stop at the first row that does not fit
        used += int(size[index])
        chosen[index] = True
    fetched_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    position = 0
    for path in files:  # pass 2: emit chosen rows in file order
        for n, row in enumerate(iter_rows(path)):
            if chosen[position]:
                locator = str(row.get(id_field) or f"{path}#{n}")
                item = {"id": locator, "text": row[text_field]}
                extra = {k: v for k, v in row.items() if k not in (text_field, id_field) and _jsonable(v)}
                item.update(extra)
                yield RawRecord.make(source=source, url=f"{path}#{n}", fetched_at=fetched_at, content_type="json",
                                     content=json.dumps(item, ensure_ascii=False, sort_keys=True).encode("utf-8"),
                                     license=str(row.get("license") or license),
                                     meta={"replay_path": path, "row": n, "estimated_tokens": int(size[position])})
            position += 1


def _jsonable(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or value is None
