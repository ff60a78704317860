"""Dedup as an evaluable function: clusters from drop decisions, pairwise precision/recall.

A predicted cluster is the set of documents merged as duplicates: each dropped document follows
the ids it lost to (exact then near) up to a kept document, whose id names the cluster.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Iterable, Mapping

from schemas.document import Document
from transforms.dedup.exact import choose_survivors
from transforms.dedup.minhash import MinHashParams
from transforms.dedup.near import near_duplicates


def dedup_local(docs: list[Document], params: MinHashParams, priority: Mapping[str, int],
                exact: bool = True, near: bool = True) -> dict[str, str]:
    """Plain-Python exact + near dedup with the same decisions as the build
    (`transforms.keys.dedup_decisions`): {loser: winner}."""
    lost_to: dict[str, str] = {}
    if exact:
        kept, dropped = choose_survivors(docs, priority)
        lost_to.update({doc.id: winner for doc, winner in dropped})
        docs = kept
    if near:
        lost_to.update(near_duplicates(docs, params, priority))
    return lost_to


def clusters(ids: Iterable[str], lost_to: Mapping[str, str]) -> dict[str, str]:
    """{document id: id of the kept document its duplicate chain ends at}."""
    result: dict[str, str] = {}
    for doc_id in ids:
        seen, node = set(), doc_id
        while node in lost_to and node not in seen:
            seen.add(node)
            node = lost_to[node]
        result[doc_id] = node
    return result


@dataclasses.dataclass(frozen=True)
class PairScores:
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise_scores(predicted: Mapping[str, str], truth: Mapping[str, str]) -> PairScores:
    """Pairwise precision/recall of a predicted clustering against true cluster labels (same ids)."""
    ids = [i for i in predicted if i in truth]
    joint = Counter((predicted[i], truth[i]) for i in ids)
    return PairScores(
        true_pairs=sum(_pairs(n) for n in Counter(truth[i] for i in ids).values()),
        predicted_pairs=sum(_pairs(n) for n in Counter(predicted[i] for i in ids).values()),
        correct_pairs=sum(_pairs(n) for n in joint.values()),
    )
