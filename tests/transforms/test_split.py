"""Validation split (transforms/split.py): fractions, stability, seed."""
from __future__ import annotations

import pytest

from transforms.split import assign_split


FRACTIONS = {"guidelines": 0.05, "papers": 0.03, "abstracts": 0.03, "replay": 0.0}


def test_split_fractions_and_stability():
    ids = [f"doc-{i}" for i in range(20000)]
    splits = [assign_split(i, "guidelines", FRACTIONS, 1234) for i in ids]
    share = splits.count("validation") / len(ids)
    assert 0.045 < share < 0.055
    assert all(assign_split(i, "replay", FRACTIONS, 1234) == "train" for i in ids[:2000])
    assert splits == [assign_split(i, "guidelines", FRACTIONS, 1234) for i in ids]
    other_seed = [assign_split(i, "guidelines", FRACTIONS, 99) for i in ids]
    assert other_seed != splits
    with pytest.raises(ValueError, match="guidelines"):
        assign_split("x", "guidelines", {"guidelines": 1.0}, 1)
