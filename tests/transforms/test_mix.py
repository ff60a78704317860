"""Mixture counts, modes, permutation and copies as plain functions (transforms/mix.py)."""
from __future__ import annotations

import pytest

from transforms.mix import MixtureError, copies_for, mixture_counts, permute_index


SHARES = {"guidelines": 0.25, "papers": 0.45, "abstracts": 0.2, "replay": 0.1}


@pytest.mark.parametrize("available", [
    {"guidelines": 10, "papers": 100, "abstracts": 20, "replay": 5},
    {"guidelines": 1234, "papers": 98765, "abstracts": 4321, "replay": 77},
    {"guidelines": 3, "papers": 2, "abstracts": 1, "replay": 1},
])
def test_mixture_counts_hit_shares_within_a_tenth_of_a_point(available):
    counts = mixture_counts(available, "shares", SHARES)
    total = sum(counts.values())
    for subset, share in SHARES.items():
        assert abs(counts[subset] / total - share) <= 0.001
    assert total >= sum(available.values())


def test_mixture_modes_and_errors():
    avail = {"papers": 100, "replay": 10}
    assert mixture_counts(avail, "natural") == avail
    assert mixture_counts(avail, "factors", factors={"replay": 2.5}) == {"papers": 100, "replay": 25}
    assert mixture_counts(avail, "shares", {"papers": 0.5, "replay": 0.5}, total_rows=40) == {"papers": 20,
                                                                                              "replay": 20}
    with pytest.raises(MixtureError, match="guidelines"):
        mixture_counts(avail, "shares", {"papers": 0.5, "guidelines": 0.5})


def test_permutation_is_a_bijection_and_copies_are_exact():
    for n in (1, 2, 3, 17, 64, 1000):
        perm = [permute_index(i, n, "seed:papers") for i in range(n)]
        assert sorted(perm) == list(range(n))
    assert [permute_index(i, 1000, "a") for i in range(10)] != [permute_index(i, 1000, "b") for i in range(10)]
    for n, target in ((10, 3), (10, 10), (10, 27), (7, 0)):
        assert sum(copies_for(p, n, target) for p in range(n)) == target


def test_meditron_preset_loads_and_mixes_exactly():
    from pathlib import Path

    from gap_pipeline.config import load_config
    preset = Path(__file__).resolve().parents[2] / "gap_pipeline" / "presets" / "meditron_gap_replay.yaml"
    cfg = load_config(preset)
    shares = cfg["mixture"]["shares"]
    # GAP-Replay: papers dominate, replay ~1%, guidelines ~0.2% of the train tokens.
    assert shares["papers"] > 0.85 and 0.005 < shares["replay"] < 0.01 and shares["guidelines"] < 0.005
    available = {"guidelines": 120, "abstracts": 5000, "papers": 40000, "replay": 300}
    counts = mixture_counts(available, cfg["mixture"]["mode"], shares, cfg["mixture"]["factors"])
    total = sum(counts.values())
    assert all(abs(counts[s] / total - shares[s]) <= 0.001 for s in shares)
