"""MinHash LSH near-dedup as Beam transforms, across sources, in two phases.

Phase 1, buckets (small entries: each document's survivor key, once per band):
    doc ──sketch──► (band, band hash) ──► best member per bucket (CombinePerKey(min): O(1) state)
                                  └──────► members ⋈ best (CoGroupByKey, streamed) ──► candidate edges
    Every bucket links its members to the bucket's best document only (a star, never all pairs).
Phase 2, verify (the verify payload, up to `verify_hashes` x 4 bytes, is keyed by document id and
shuffled a bounded number of times, never once per band):
    candidates ⋈ payloads by loser id ──► (winner id, loser id, loser payload), once per distinct winner
               ⋈ payloads by winner id ──► edge kept when the pair's shingle Jaccard >= threshold
    (exact from the carried shingle hashes; a bottom-k estimate for very long documents; with
    `verify_hashes: 0` the payload is the signature and the check is its estimate)
    edges ──CombinePerKey(min)──► each loser's best winner ──⋈ keys by id──► kept | dropped
    (the last join is `transforms.keys.NearDedupKeys`; the build sketches each part file in a pass and
    reads payloads only for the documents an edge names: `transforms.keys.dedup_decisions`)

Candidate edges are not filtered by the signatures' estimate: phase 1 then carries no signature
(16 x 512 bytes per document saved), and the verified edges are exactly the star edges the
one-phase check accepted, so results are identical by construction. (Measured on the labelled set:
67 candidate pairs, 46 accepted; an estimate filter at threshold - 0.15 would have removed 1.)

Every choice is a `min` over a total order (`survivor_key`), so results do not depend on bundling.
No step holds more than one bucket's best entry, one document's winners, or one payload per key.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import apache_beam as beam

from schemas import stages
from schemas.document import Document
from transforms.dedup.minhash import (MinHashParams, band_keys, dedup_manifest_info, estimated_jaccard,
                                      sample_jaccard, shingles, signatures_and_samples)
from transforms.dedup.survivor import survivor_id, survivor_key
from transforms.stage import Counters

__all__ = ["MinHashParams", "candidate_edges", "dedup_manifest_info", "near_duplicates", "sketch", "sketch_documents",
           "verified_losses"]

STAGE = stages.DEDUP_NEAR
REASON = "near_duplicate"


def sketch(docs: list[Document], params: MinHashParams, priority: Mapping[str, int]
           ) -> tuple[list[tuple], list[tuple[str, bytes]]]:
    """([(bucket key, survivor key)] for every band of every document, [(document id, verify
    payload)]) for the documents that have at least one shingle. Documents without tokens are not
    sketched (and so always kept). The payload is the document's shingle-hash sample (at most
    `verify_hashes` x 4 bytes), or its signature when `verify_hashes` is 0: a candidate pair is
    judged on it in phase 2, so bucket entries stay small."""
    grams = [shingles(d.text, params.shingle_size) for d in docs]
    sigs, samples = signatures_and_samples(grams, params)
    entries, payloads = [], []
    for doc, gram, sig, sample in zip(docs, grams, sigs, samples):
        if not gram:
            continue
        rank = survivor_key(doc, priority)
        entries.extend((key, rank) for key in band_keys(sig, params))
        payloads.append((doc.id, (sample if params.verify_hashes else sig).astype("<u4").tobytes()))
    return entries, payloads


def sketch_documents(docs: list[Document], params: MinHashParams, priority: Mapping[str, int]):
    """The bucket entries of `sketch`: (bucket key, survivor key)."""
    yield from sketch(docs, params, priority)[0]


def pair_similarity(payload: bytes, other: bytes, params: MinHashParams) -> float:
    """Shingle Jaccard of two sketched documents: from their carried shingle hashes, or (with
    `verify_hashes: 0`) the signatures' estimate."""
    if params.verify_hashes:
        return sample_jaccard(payload, other, params.verify_hashes)
    return estimated_jaccard(payload, other)


def star_edges(members: Iterable[tuple], best: tuple, params: MinHashParams | None = None):
    """Candidate edges (loser id, winner survivor key): each bucket member to the bucket's best."""
    for member in members:
        if member != best:
            yield survivor_id(member), best


def verified(loser_payload: bytes, winner_payload: bytes, params: MinHashParams) -> bool:
    return pair_similarity(loser_payload, winner_payload, params) >= params.threshold


def near_duplicates(docs: list[Document], params: MinHashParams, priority: Mapping[str, int]) -> dict[str, str]:
    """Plain-Python reference of the build's near dedup (`candidate_edges`, `verified_losses`,
    `transforms.keys.NearDedupKeys`: same buckets, same stars, same checks): {loser id: winner id}."""
    entries, payload_list = sketch(docs, params, priority)
    payloads: dict[str, bytes] = {}
    for doc_id, payload in payload_list:  # ids are unique by contract; min keeps a clash deterministic
        payloads[doc_id] = min(payload, payloads.get(doc_id, payload))
    buckets: dict[tuple, list[tuple]] = {}
    for key, rank in entries:
        buckets.setdefault(key, []).append(rank)
    candidates: set[tuple[str, tuple]] = set()
    for members in buckets.values():
        if len(members) > 1:
            candidates.update(star_edges(members, min(members)))
    losses: dict[str, tuple] = {}
    for loser, winner in candidates:
        if verified(payloads[loser], payloads[survivor_id(winner)], params):
            if loser not in losses or winner < losses[loser]:
                losses[loser] = winner
    return {loser: survivor_id(winner) for loser, winner in losses.items()}


class _StarEdges(beam.DoFn):
    def process(self, element):
        _, grouped = element
        best = grouped["best"]
        if not best:
            return
        yield from star_edges(grouped["members"], best[0])


class _SendLoserToWinners(beam.DoFn):
    """(winner id, (loser id, winner key, loser payload)) once per distinct candidate winner."""

    def __init__(self):
        self._counters = Counters(STAGE)

    def process(self, element):
        loser, grouped = element
        winners = set(grouped["winners"])  # the same pair comes from every band it shares: at most `bands`
        if not winners:
            return
        payloads = list(grouped["payload"])
        if not payloads:  # cannot happen: every sketched document has a payload
            self._counters.inc("candidate_without_payload")
            return
        payload = min(payloads)
        for winner in sorted(winners):
            yield survivor_id(winner), (loser, winner, payload)


class _VerifyAtWinner(beam.DoFn):
    """(loser id, winner key) for each candidate whose Jaccard with its winner reaches the threshold."""

    def __init__(self, params: MinHashParams):
        self._params = params
        self._counters = Counters(STAGE)

    def process(self, element):
        _, grouped = element
        payloads = list(grouped["payload"])  # one per id: the losers' side is streamed
        if not payloads:
            for _ in grouped["losers"]:
                self._counters.inc("candidate_without_payload")
            return
        winner_payload = min(payloads)
        for loser, winner, loser_payload in grouped["losers"]:
            if verified(loser_payload, winner_payload, self._params):
                yield loser, winner


def candidate_edges(entries):
    """Phase 1: bucket entries ((bucket key, survivor key)) -> candidate edges (loser id, winner
    survivor key), each bucket member to the bucket's best. Buckets carry survivor keys only."""
    best = entries | "BestPerBucket" >> beam.CombinePerKey(min)
    return ({"members": entries, "best": best}
            | "JoinBucketBest" >> beam.CoGroupByKey()
            | "CandidateEdges" >> beam.ParDo(_StarEdges()))


def verified_losses(candidates, payloads, params: MinHashParams):
    """Phase 2: each payload ((id, bytes)) meets its candidate edges by document id, loser side then
    winner side -> (loser id, best winner's survivor key) for every verified near duplicate. Only the
    documents named by an edge need a payload."""
    at_winners = ({"winners": candidates, "payload": payloads}
                  | "JoinLoserPayload" >> beam.CoGroupByKey()
                  | "SendLoserToWinners" >> beam.ParDo(_SendLoserToWinners()))
    return ({"losers": at_winners, "payload": payloads}
            | "JoinWinnerPayload" >> beam.CoGroupByKey()
            | "Verify" >> beam.ParDo(_VerifyAtWinner(params))
            | "BestWinnerPerLoser" >> beam.CombinePerKey(min))
