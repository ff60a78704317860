"""Exact dedup on a hash of the normalised full text, across sources.

Among documents with the same normalised text the survivor is the best by `survivor_key` (source
priority, newest, longest, id); the others are dropped with the winner's id as detail.

Beam shape: key every document by its text hash; a `CombinePerKey(min)` picks the winner per hash
(its accumulator holds one small tuple, so no worker holds a group in memory); a `CoGroupByKey`
of documents with their winner then streams each group once to route kept/dropped.
"""
from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from typing import Mapping

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas import stages
from schemas.document import Document
from schemas.events import make_drop
from transforms.dedup.survivor import exact_rank, survivor_id, survivor_key
from transforms.stage import DROPPED

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
    """Plain-Python exact dedup (reference for the PTransform and for small inputs):
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


class _Resolve(beam.DoFn):
    def __init__(self, priority: Mapping[str, int]):
        self._priority = dict(priority)
        self._kept = Metrics.counter("gap", f"{STAGE}:kept")
        self._dropped = Metrics.counter("gap", f"{STAGE}:{REASON}")

    def process(self, element):
        _, grouped = element
        winner = grouped["winner"][0]
        winner_emitted = False
        for doc in grouped["docs"]:
            if not winner_emitted and ranked(doc, self._priority) == winner:
                winner_emitted = True  # an identical second record with the same rank is a duplicate too
                self._kept.inc()
                yield doc
            else:
                self._dropped.inc()
                yield beam.pvalue.TaggedOutput(DROPPED, make_drop(doc, STAGE, REASON, detail=survivor_id(winner)))


class ExactDedup(beam.PTransform):
    """PCollection[Document] -> outputs `kept` (Document) and `dropped` (Drop)."""

    def __init__(self, priority: Mapping[str, int], label: str | None = None):
        super().__init__(label=label or "ExactDedup")
        self._priority = dict(priority)

    def expand(self, docs):
        priority = self._priority
        keyed = docs | "KeyByTextHash" >> beam.Map(lambda d: (text_hash(d.text), d))
        winners = (keyed
                   | "RankOnly" >> beam.Map(lambda kv: (kv[0], ranked(kv[1], priority)))
                   | "BestPerHash" >> beam.CombinePerKey(min))
        return ({"docs": keyed, "winner": winners}
                | "JoinWinner" >> beam.CoGroupByKey()
                | "Route" >> beam.ParDo(_Resolve(priority)).with_outputs(DROPPED, main="kept"))
