"""MinHash LSH near-dedup as Beam transforms, across sources.

    doc ──sketch──► (band, band hash) ──► best member per bucket (CombinePerKey(min): O(1) state)
                                  └──────► members ⋈ best (CoGroupByKey, streamed) ──► star edges
    star edge member → best, kept only when the pair's shingle Jaccard >= threshold (exact from the
    carried shingle hashes; a bottom-k estimate for very long documents; see `verify_hashes`)
    edges ──CombinePerKey(min)──► each loser's best winner ──⋈ docs by id──► kept | dropped

Every bucket links its members to the bucket's best document only (a star, never all pairs), and
every choice is a `min` over a total order (`survivor_key`), so results do not depend on bundling.
No step holds more than one bucket's best entry or one document per key in memory.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.document import Document
from transforms.dedup.minhash import (MinHashParams, band_keys, dedup_manifest_info, estimated_jaccard,
                                      sample_jaccard, shingles, signatures_and_samples)
from transforms.dedup.survivor import survivor_key
from transforms.stage import DROPPED, make_drop

__all__ = ["NearDedup", "MinHashParams", "dedup_manifest_info", "near_duplicates", "sketch_documents"]

STAGE = "dedup_near"
REASON = "near_duplicate"
_BATCH = 64  # documents per vectorised signature call


def sketch_documents(docs: list[Document], params: MinHashParams, priority: Mapping[str, int]):
    """(bucket key, (survivor key, signature bytes, shingle-hash sample bytes)) for every band of
    every document that has at least one shingle. Documents without tokens are not sketched (and so
    always kept). The sample (at most `verify_hashes` x 4 bytes) travels so that a candidate pair is
    judged on its shingles, not on the signatures' noisy estimate alone."""
    grams = [shingles(d.text, params.shingle_size) for d in docs]
    sigs, samples = signatures_and_samples(grams, params)
    for doc, gram, sig, sample in zip(docs, grams, sigs, samples):
        if not gram:
            continue
        entry = (survivor_key(doc, priority), sig.astype("<u4").tobytes(), sample.astype("<u4").tobytes())
        for key in band_keys(sig, params):
            yield key, entry


def pair_similarity(entry: tuple, other: tuple, params: MinHashParams) -> float:
    """Shingle Jaccard of two sketched documents: from their carried shingle hashes, or (with
    `verify_hashes: 0`) the signatures' estimate."""
    if params.verify_hashes:
        return sample_jaccard(entry[2], other[2], params.verify_hashes)
    return estimated_jaccard(entry[1], other[1])


def star_edges(members: Iterable[tuple], best: tuple, params: MinHashParams):
    """(loser id, winner survivor key) for each bucket member that is near the bucket's best."""
    best_rank = best[0]
    for member in members:
        if member[0] != best_rank and pair_similarity(member, best, params) >= params.threshold:
            yield member[0][3], best_rank


def near_duplicates(docs: list[Document], params: MinHashParams, priority: Mapping[str, int]) -> dict[str, str]:
    """Plain-Python reference of `NearDedup` (same buckets, same stars): {loser id: winner id}."""
    buckets: dict[tuple, list[tuple]] = {}
    for key, entry in sketch_documents(docs, params, priority):
        buckets.setdefault(key, []).append(entry)
    losses: dict[str, tuple] = {}
    for members in buckets.values():
        if len(members) < 2:
            continue
        best = min(members)
        for loser, winner in star_edges(members, best, params):
            if loser not in losses or winner < losses[loser]:
                losses[loser] = winner
    return {loser: winner[3] for loser, winner in losses.items()}


class _Sketch(beam.DoFn):
    def __init__(self, params: MinHashParams, priority: Mapping[str, int]):
        self._params = params
        self._priority = dict(priority)

    def process(self, batch):
        yield from sketch_documents(list(batch), self._params, self._priority)


class _StarEdges(beam.DoFn):
    def __init__(self, params: MinHashParams):
        self._params = params

    def process(self, element):
        _, grouped = element
        best = grouped["best"]
        if not best:
            return
        yield from star_edges(grouped["members"], best[0], self._params)


class _Route(beam.DoFn):
    def __init__(self):
        self._kept = Metrics.counter("gap", f"{STAGE}:kept")
        self._dropped = Metrics.counter("gap", f"{STAGE}:{REASON}")

    def process(self, element):
        _, grouped = element
        losses = list(grouped["loss"])
        for doc in grouped["doc"]:
            if losses:
                self._dropped.inc()
                yield beam.pvalue.TaggedOutput(DROPPED, make_drop(doc, STAGE, REASON, detail=losses[0][3]))
            else:
                self._kept.inc()
                yield doc


class NearDedup(beam.PTransform):
    """PCollection[Document] -> outputs `kept` (Document) and `dropped` (Drop, detail = winner id)."""

    def __init__(self, params: MinHashParams, priority: Mapping[str, int], label: str | None = None):
        super().__init__(label=label or "NearDedup")
        self._params = params
        self._priority = dict(priority)

    def expand(self, docs):
        params = self._params
        entries = (docs
                   | "Batch" >> beam.BatchElements(min_batch_size=1, max_batch_size=_BATCH)
                   | "Sketch" >> beam.ParDo(_Sketch(params, self._priority)))
        best = entries | "BestPerBucket" >> beam.CombinePerKey(min)
        losses = ({"members": entries, "best": best}
                  | "JoinBucketBest" >> beam.CoGroupByKey()
                  | "StarEdges" >> beam.ParDo(_StarEdges(params))
                  | "BestWinnerPerLoser" >> beam.CombinePerKey(min))
        by_id = docs | "KeyById" >> beam.Map(lambda d: (d.id, d))
        return ({"doc": by_id, "loss": losses}
                | "JoinLosses" >> beam.CoGroupByKey()
                | "Route" >> beam.ParDo(_Route()).with_outputs(DROPPED, main="kept"))
