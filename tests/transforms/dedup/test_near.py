"""Near dedup as the build runs it (survivors, drop details) and its two-phase form: bucket entries carry no
verify hashes, and the decisions are identical to the one-phase check (every bucket entry carrying
signature + shingle hashes) it replaced."""
from __future__ import annotations

import pickle
import random

import pytest

from schemas.document import Document
from testkit.labelled_set import build_pairs, documents_with_truth
from tests.transforms.dedup._helpers import BASE, doc, run
from transforms.dedup.minhash import (MinHashParams, band_keys, estimated_jaccard, sample_jaccard, shingles,
                                      signatures_and_samples)
from transforms.dedup.near import near_duplicates, sketch
from transforms.keys import decide_on_documents, dedup_decisions
from transforms.dedup.survivor import survivor_key

PRIORITY = {"guidelines": 0, "papers": 1, "abstracts": 2, "replay": 3}


def one_phase_reference(docs, params, priority):
    """The previous implementation, kept here as the oracle: every (band, hash) bucket entry carried
    (survivor key, signature, shingle-hash sample) and star edges were verified inside the bucket."""
    grams = [shingles(d.text, params.shingle_size) for d in docs]
    sigs, samples = signatures_and_samples(grams, params)
    buckets = {}
    for doc, gram, sig, sample in zip(docs, grams, sigs, samples):
        if gram:
            entry = (survivor_key(doc, priority), sig.astype("<u4").tobytes(), sample.astype("<u4").tobytes())
            for key in band_keys(sig, params):
                buckets.setdefault(key, []).append(entry)
    losses = {}
    for members in buckets.values():
        best = min(members)
        for member in members:
            if member[0] == best[0]:
                continue
            similarity = (sample_jaccard(member[2], best[2], params.verify_hashes) if params.verify_hashes
                          else estimated_jaccard(member[1], best[1]))
            if similarity >= params.threshold and (member[0][3] not in losses or best[0] < losses[member[0][3]]):
                losses[member[0][3]] = best[0]
    return {loser: winner[3] for loser, winner in losses.items()}


@pytest.fixture(scope="module")
def labelled_docs(realdata):
    lines = documents_with_truth(build_pairs(realdata, passages_per_level=10), 0.8)
    return [Document(id=d["id"], source=d["source"], subset=d["source"], title="", text=d["text"],
                     meta={k: d[k] for k in ("date",) if k in d}) for d in lines]


@pytest.mark.parametrize("verify_hashes", [2048, 64, 0])  # exact, bottom-k estimate, signature estimate
def test_two_phase_reference_equals_one_phase_check(labelled_docs, verify_hashes):
    params = MinHashParams(verify_hashes=verify_hashes)
    expected = one_phase_reference(labelled_docs, params, PRIORITY)
    assert len(expected) >= 30  # the labelled set has many true duplicates: the check is not vacuous
    assert near_duplicates(labelled_docs, params, PRIORITY) == expected
    shuffled = list(labelled_docs)
    random.Random(7).shuffle(shuffled)
    assert near_duplicates(shuffled, params, PRIORITY) == expected


def test_beam_equals_plain_function_on_labelled_set(labelled_docs):
    params = MinHashParams()
    dropped, _ = decide_on_documents(labelled_docs, lambda read: dedup_decisions(read, PRIORITY, params, exact=False))
    expected = near_duplicates(labelled_docs, params, PRIORITY)
    assert {d.doc_id: d.detail for d in dropped} == expected
    assert len(dropped) == len(expected) and {d.stage for d in dropped} == {"dedup_near"}
    assert expected == one_phase_reference(labelled_docs, params, PRIORITY)


def test_bucket_entries_do_not_carry_verify_hashes():
    words = " ".join(f"word{i} dose {i} mg" for i in range(1500))  # > 2048 shingles: a full sample
    docs = [Document(id="long", source="s", subset="papers", title="", text=words),
            Document(id="short", source="s", subset="papers", title="", text="aspirin 75 mg once daily for life")]
    params = MinHashParams()
    entries, payloads = sketch(docs, params, PRIORITY)
    assert len(entries) == 2 * params.bands and [p[0] for p in payloads] == ["long", "short"]
    for (band, digest), rank in entries:  # (bucket key, survivor key) and nothing else
        assert isinstance(band, int) and len(digest) == 8
        assert rank[3] in ("long", "short") and not any(isinstance(v, (bytes, bytearray)) for v in rank)
        assert len(pickle.dumps(((band, digest), rank))) < 200
    assert len(payloads[0][1]) == params.verify_hashes * 4  # the 8 KB travel once, keyed by id
    # with verify_hashes 0 the payload is the signature
    _, sig_payloads = sketch(docs, MinHashParams(verify_hashes=0), PRIORITY)
    assert [len(p) for _, p in sig_payloads] == [params.num_perm * 4] * 2


def test_near_dedup_drops_the_worse_near_copy_and_keeps_dose_changes_apart():
    long_text = BASE * 1 + "Children are treated according to weight based dosing tables in the appendix. " * 3
    edited = long_text.replace("review at 48 hours", "review at 72 hours")
    dose_changed = (long_text.replace("500 mg", "50 mg").replace("200 mg", "20 mg").replace("100 mg", "10 mg")
                    .replace("five days", "seven days").replace("48 hours", "24 hours"))
    docs = [doc(1, long_text, subset="papers"), doc(2, edited, subset="guidelines"),
            doc(3, dose_changed, subset="papers"), doc(4, "completely different words " * 30)]
    params = MinHashParams()
    kept, dropped = run(docs, params, exact=False)
    assert ("d1", "dedup_near", "near_duplicate", "d2") in dropped
    assert "d2" in kept and "d4" in kept
    assert "d3" in kept  # many numbers changed: Jaccard well below 0.8
    assert {loser: winner for loser, _, _, winner in dropped} == near_duplicates(docs, params, PRIORITY)


def test_near_dedup_keeps_documents_without_tokens():
    docs = [doc(1, "... !!! ..."), doc(2, "--- ??? ---")]
    kept, dropped = run(docs, exact=False)
    assert kept == ["d1", "d2"] and dropped == []
