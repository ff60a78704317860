"""Benchmark decontamination: drop documents that share a long word n-gram (13 by default) with any
question, option, context or answer of a user-provided benchmark (MedQA / MedMCQA / PubMedQA-style
JSONL). The drop records which benchmark file and item matched.

The index maps an 8-byte hash of each benchmark n-gram to its first item; a document is scanned
once, n-gram by n-gram, and stops at the first hit.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from schemas import stages
from schemas.document import Document
from schemas.jsonl import jsonl_stream_lines
from schemas.events import Drop, make_drop

STAGE = stages.DECONTAMINATE  # the pipeline's stage name (manifest accounting)
REASON = "benchmark_overlap"
_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+", re.UNICODE)
_TEXT_FIELDS = ("question", "context", "contexts", "options", "choices", "answer", "answers",
                "long_answer", "exp", "opa", "opb", "opc", "opd")


class BenchmarkError(ValueError):
    """A benchmark file is missing or holds a line that is not a JSON object (message says where)."""


@dataclasses.dataclass(frozen=True)
class BenchmarkIndex:
    n: int
    grams: dict  # 8-byte n-gram hash -> "file:item id"
    items: int

    def __len__(self) -> int:
        return len(self.grams)


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text.lower())


def _gram_hash(words: list[str]) -> bytes:
    return hashlib.blake2b(" ".join(words).encode("utf-8"), digest_size=8).digest()


def ngram_hashes(text: str, n: int) -> Iterator[bytes]:
    words = _tokens(text)
    for i in range(len(words) - n + 1):
        yield _gram_hash(words[i:i + n])


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def item_texts(item: dict[str, Any]) -> list[str]:
    """The texts of a benchmark item that must not appear in training data (each on its own, so an
    n-gram never spans two fields)."""
    return [s for key in _TEXT_FIELDS if key in item for s in _strings(item[key])]


def load_benchmark_ngrams(paths: Iterable[str | Path], n: int = 13) -> BenchmarkIndex:
    """Index the word n-grams of every item of every benchmark JSONL file."""
    if n < 1:
        raise BenchmarkError(f"n-gram size must be >= 1, got {n}")
    grams: dict[bytes, str] = {}
    items = 0
    for path in sorted(str(p) for p in paths):
        file = Path(path)
        if not file.is_file():
            raise BenchmarkError(f"benchmark file not found: {file}")
        with file.open(encoding="utf-8") as handle:
            for line_no, line in jsonl_stream_lines(handle):
                try:
                    item = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise BenchmarkError(f"{file}:{line_no}: not JSON ({exc.msg})") from exc
                if not isinstance(item, dict):
                    raise BenchmarkError(f"{file}:{line_no}: expected a JSON object")
                item_id = str(item.get("id", item.get("qid", f"line{line_no}")))
                label = f"{file.name}:{item_id}"
                items += 1
                for text in item_texts(item):
                    for gram in ngram_hashes(text, n):
                        grams.setdefault(gram, label)
    return BenchmarkIndex(n=n, grams=grams, items=items)


def find_overlap(text: str, index: BenchmarkIndex, n: int | None = None) -> str | None:
    """The 'file:item' of the first benchmark n-gram found in `text`, or None."""
    grams = index.grams
    if not grams:
        return None
    for gram in ngram_hashes(text, n or index.n):
        hit = grams.get(gram)
        if hit is not None:
            return hit
    return None


def decontaminate_fn(index: BenchmarkIndex, n: int | None = None) -> Callable[[Document], "Document | Drop"]:
    """Per-document stage dropping documents that share an n-gram with a benchmark item."""
    size = n or index.n
    if size != index.n:
        raise BenchmarkError(f"index holds {index.n}-grams but {size}-grams were asked for")

    def apply(doc: Document) -> "Document | Drop":
        hit = find_overlap(doc.text, index, size)
        return doc if hit is None else make_drop(doc, STAGE, REASON, detail=hit)

    return apply
