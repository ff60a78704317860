"""Exact dedup as the build runs it (transforms.keys.dedup_decisions): survivors, drop details, agreement
with the plain reference."""
from __future__ import annotations

from tests.transforms.dedup._helpers import BASE, PRIORITY, doc, run
from transforms.dedup.exact import choose_survivors


def test_exact_dedup_keeps_guideline_copy_then_newest_then_longest():
    docs = [
        doc(1, BASE, subset="replay"),
        doc(2, BASE.upper() + "  ", subset="guidelines", date="2019-01-01"),  # same after normalising
        doc(3, "  " + BASE, subset="guidelines", date="2021-05-01"),          # newest guideline wins
        doc(4, "unrelated text " * 20, subset="abstracts"),
        doc(5, "unrelated text " * 20, subset="abstracts", year=2020),        # newer of two abstracts
    ]
    kept, dropped = run(docs, near=False)
    assert kept == ["d3", "d5"]
    assert dropped == [("d1", "dedup_exact", "exact_duplicate", "d3"),
                       ("d2", "dedup_exact", "exact_duplicate", "d3"),
                       ("d4", "dedup_exact", "exact_duplicate", "d5")]
    plain_kept, plain_dropped = choose_survivors(docs, PRIORITY)
    assert sorted(d.id for d in plain_kept) == kept


def test_source_spec_priority_overrides_subset_rank():
    docs = [doc(1, BASE, subset="guidelines"), doc(2, BASE, subset="replay", priority=-1)]
    kept, _ = run(docs, near=False)
    assert kept == ["d2"]
