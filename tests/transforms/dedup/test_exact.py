"""ExactDedup / NearDedup as Beam transforms: survivors, drop details, agreement with the plain reference."""
from __future__ import annotations


from schemas.document import Document
from transforms.dedup import ExactDedup, MinHashParams, NearDedup
from transforms.dedup.exact import choose_survivors
from transforms.dedup.near import near_duplicates
from transforms.dedup.runner import run_dedup_transform

PRIORITY = {"guidelines": 0, "papers": 1, "abstracts": 2, "replay": 3}
BASE = ("Adults with community acquired pneumonia should receive amoxicillin 500 mg three times daily "
        "for five days unless they have a penicillin allergy in which case doxycycline 200 mg on the "
        "first day then 100 mg once daily is an alternative; review at 48 hours and extend treatment "
        "if the patient is not improving or has risk factors for a complicated course. ")


def doc(i, text, subset="papers", **meta):
    return Document(id=f"d{i}", source=f"s{i}", subset=subset, title="", text=text,
                    meta=meta)


def run(transform, docs):
    kept, dropped = run_dedup_transform(transform, docs)
    return sorted(d.id for d in kept), sorted((x.doc_id, x.stage, x.reason, x.detail) for x in dropped)


def test_exact_dedup_keeps_guideline_copy_then_newest_then_longest():
    docs = [
        doc(1, BASE, subset="replay"),
        doc(2, BASE.upper() + "  ", subset="guidelines", date="2019-01-01"),  # same after normalising
        doc(3, "  " + BASE, subset="guidelines", date="2021-05-01"),          # newest guideline wins
        doc(4, "unrelated text " * 20, subset="abstracts"),
        doc(5, "unrelated text " * 20, subset="abstracts", year=2020),        # newer of two abstracts
    ]
    kept, dropped = run(ExactDedup(PRIORITY), docs)
    assert kept == ["d3", "d5"]
    assert dropped == [("d1", "dedup_exact", "exact_duplicate", "d3"),
                       ("d2", "dedup_exact", "exact_duplicate", "d3"),
                       ("d4", "dedup_exact", "exact_duplicate", "d5")]
    plain_kept, plain_dropped = choose_survivors(docs, PRIORITY)
    assert sorted(d.id for d in plain_kept) == kept


def test_source_spec_priority_overrides_subset_rank():
    docs = [doc(1, BASE, subset="guidelines"), doc(2, BASE, subset="replay", priority=-1)]
    kept, _ = run(ExactDedup(PRIORITY), docs)
    assert kept == ["d2"]


def test_near_dedup_drops_the_worse_near_copy_and_keeps_dose_changes_apart():
    long_text = BASE * 1 + "Children are treated according to weight based dosing tables in the appendix. " * 3
    edited = long_text.replace("review at 48 hours", "review at 72 hours")
    dose_changed = (long_text.replace("500 mg", "50 mg").replace("200 mg", "20 mg").replace("100 mg", "10 mg")
                    .replace("five days", "seven days").replace("48 hours", "24 hours"))
    docs = [doc(1, long_text, subset="papers"), doc(2, edited, subset="guidelines"),
            doc(3, dose_changed, subset="papers"), doc(4, "completely different words " * 30)]
    params = MinHashParams()
    kept, dropped = run(NearDedup(params, PRIORITY), docs)
    assert ("d1", "dedup_near", "near_duplicate", "d2") in dropped
    assert "d2" in kept and "d4" in kept
    assert "d3" in kept  # many numbers changed: Jaccard well below 0.8
    assert {loser: winner for loser, _, _, winner in dropped} == near_duplicates(docs, params, PRIORITY)


def test_near_dedup_keeps_documents_without_tokens():
    docs = [doc(1, "... !!! ..."), doc(2, "--- ??? ---")]
    kept, dropped = run(NearDedup(MinHashParams(), PRIORITY), docs)
    assert kept == ["d1", "d2"] and dropped == []
