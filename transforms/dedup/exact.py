"""Exact dedup on a hash of the normalised full text, across sources.

Among documents with the same normalised text the survivor is the best by `survivor_key` (source
priority, newest, longest, id); the others are dropped with the winner's id as detail.

The build decides on key records (`transforms.keys.ExactDedupKeys`): keyed by text hash, a
`CombinePerKey(min)` picks the winner per hash (its accumulator holds one small tuple, so no worker
holds a group in memory) and a `CoGroupByKey` of keys with their winner streams each group once.
`choose_survivors` is the same decision in plain Python, the specification it is tested against.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Mapping

from schemas import stages
from schemas.document import Document
from transforms.dedup.survivor import exact_rank, survivor_id, survivor_key

STAGE = stages.DEDUP_EXACT
REASON = "exact_duplicate"
_SPACE_RE = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: copies that differ only in layout or case match."""
    return _SPACE_RE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def text_hash(text: str) -> str:
    return hashlib.sha256(normalize_text(text).encode("utf-8")).hexdigest()


def fingerprint(doc: Document) -> str:
    """sha256 of the whole stored row: tie-break for two records with the same id (re-scraped page)."""
    return hashlib.sha256(json.dumps(doc.to_row(), sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def ranked(doc: Document, priority: Mapping[str, int]) -> tuple:
    return exact_rank(survivor_key(doc, priority), fingerprint(doc))


def choose_survivors(docs: list[Document], priority: Mapping[str, int]) -> tuple[list[Document], list[tuple[Document, str]]]:
    """Plain-Python exact dedup (reference for `transforms.keys.ExactDedupKeys` and for small inputs):
    returns (kept, [(dropped doc, winner id)])."""
    best: dict[str, tuple] = {}
    for doc in docs:
        key = text_hash(doc.text)
        rank = ranked(doc, priority)
        if key not in best or rank < best[key]:
            best[key] = rank
    kept, dropped = [], []
    emitted: set[str] = set()
    for doc in docs:
        key = text_hash(doc.text)
        win = best[key]
        if key not in emitted and ranked(doc, priority) == win:
            emitted.add(key)
            kept.append(doc)
        else:
            dropped.append((doc, survivor_id(win)))
    return kept, dropped
