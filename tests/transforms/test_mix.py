"""Mixture counts, modes, permutation and copies as plain functions, and the mixture plan (one small record
per packed part and group) checked against an independent reference (transforms/mix.py)."""
from __future__ import annotations

import collections
import random

import pytest

from tests.transforms._tail import SEQ_LEN, WIDTH
from transforms.mix import (MixtureError, copies_for, key_offsets, mixture_counts, mixture_key, permute_index,
                            plan_mixture, row_orders)
from transforms.split import TRAIN, VALIDATION


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
    shares = cfg.mixture.shares
    # GAP-Replay: papers dominate, replay ~1%, guidelines ~0.2% of the train tokens.
    assert shares["papers"] > 0.85 and 0.005 < shares["replay"] < 0.01 and shares["guidelines"] < 0.005
    available = {"guidelines": 120, "abstracts": 5000, "papers": 40000, "replay": 300}
    counts = mixture_counts(available, cfg.mixture.mode, shares, cfg.mixture.factors)
    total = sum(counts.values())
    assert all(abs(counts[s] / total - shares[s]) <= 0.001 for s in shares)


def _groups(rng: random.Random, by_source: bool = False) -> list:
    """Plan records ((split, subset, source, part), (rows, bytes)) for 5 parts, not every group in every part."""
    sources = {"papers": ["pmc"], "abstracts": ["pubmed"], "guidelines": ["who", "cdc"], "replay": ["replay"]}
    records = []
    for part in range(5):
        for subset, names in sources.items():
            for source in (names if by_source else [""]):
                for split in (TRAIN, VALIDATION):
                    if rng.random() < 0.2:
                        continue
                    n = rng.randint(1, 60 if subset == "papers" else 12)
                    records.append(((split, subset, source, part), (n, n * (WIDTH * 2 + 40))))
    return records


def _all_orders(plan, records, split, seed, by):
    """key -> list of every number row_orders gives the split's rows, and (key, part, index) -> numbers."""
    per_key, per_row = collections.defaultdict(list), {}
    for (rec_split, subset, source, part), (n, _size) in records:
        if rec_split != split:
            continue
        key, bucket = mixture_key(subset, source, part, by)
        for index in range(n):
            numbers = row_orders(plan, split, key, bucket, index, seed, by)
            per_key[key] += numbers
            per_row[(key, bucket, index)] = numbers
    return per_key, per_row


@pytest.mark.parametrize("by", ["subset", "source"])
def test_plan_numbers_every_train_copy_once_and_validation_in_order(by):
    rng = random.Random(11)
    records = _groups(rng, by_source=by == "source")
    if by == "subset":
        shares = {"papers": 0.5, "abstracts": 0.2, "guidelines": 0.2, "replay": 0.1}
    else:
        shares = {"pmc": 0.5, "pubmed": 0.2, "who": 0.12, "cdc": 0.08, "replay": 0.1}
    plan = plan_mixture(sorted(records), "shares", shares, {}, SEQ_LEN, by=by)
    # The plan is made from the records alone: their order does not matter.
    shuffled = list(records)
    rng.shuffle(shuffled)
    assert plan_mixture(shuffled, "shares", shares, {}, SEQ_LEN, by=by) == plan
    train = plan[TRAIN]
    available = collections.Counter()
    for (split, subset, source, part), (n, _) in records:
        if split == TRAIN:
            available[mixture_key(subset, source, part, by)[0]] += n
    assert train["available"] == dict(available)
    per_key, _ = _all_orders(plan, records, TRAIN, 5, by)
    total = sum(train["targets"].values())
    assert train["rows"] == total
    everything = []
    for key, numbers in per_key.items():
        start = train["key_offsets"][key]
        # Every copy of the key's rows numbered exactly once in the key's [offset, offset + target).
        assert sorted(numbers) == list(range(start, start + train["targets"][key])), key
        everything += numbers
    assert sorted(everything) == list(range(total))
    for key, share in shares.items():
        assert abs(train["targets"][key] / total - share) <= 0.001, key
        assert plan["report"]["sources" if by == "source" else "subsets"][key]["realised_share"] == \
            pytest.approx(train["targets"][key] / total)
    # Upsampled keys repeat rows, downsampled keys drop some: both happen here.
    assert any(train["targets"][k] > available[k] for k in available)
    assert any(train["targets"][k] < available[k] for k in available)
    # Validation: every row once, numbered in (key, part, index) order.
    _, per_row = _all_orders(plan, records, VALIDATION, 5, by)
    ordered = [per_row[k] for k in sorted(per_row)]
    assert ordered == [[i] for i in range(len(per_row))] and plan[VALIDATION]["rows"] == len(per_row)


def test_plan_other_modes_and_errors():
    records = [((TRAIN, "papers", "", 0), (10, 1000)), ((TRAIN, "papers", "", 1), (5, 500)),
               ((TRAIN, "replay", "", 1), (4, 400)), ((VALIDATION, "papers", "", 0), (2, 200))]
    natural = plan_mixture(records, "natural", None, None, SEQ_LEN)
    assert natural[TRAIN]["targets"] == {"papers": 15, "replay": 4} and natural[TRAIN]["bytes"] == 1900
    factors = plan_mixture(records, "factors", None, {"replay": 2.5}, SEQ_LEN)
    assert factors[TRAIN]["targets"] == {"papers": 15, "replay": 10}
    # A key's copies are sized at its mean row: replay's 10 copies of 100-byte rows.
    assert factors[TRAIN]["bytes"] == 1500 + 1000
    assert factors["report"]["subsets"]["replay"]["repeated_rows"] == 6
    per_key, _ = _all_orders(factors, records, TRAIN, 1, "subset")
    assert sorted(per_key["replay"]) == list(range(15, 25))
    with pytest.raises(MixtureError, match="subsets with no train rows: guidelines"):
        plan_mixture(records, "shares", {"papers": 0.5, "guidelines": 0.5}, None, SEQ_LEN)
    with pytest.raises(MixtureError, match="packed without their source"):
        plan_mixture(records, "shares", {"papers": 1.0}, None, SEQ_LEN, by="source")
    with pytest.raises(MixtureError, match="unknown mixture key"):
        plan_mixture(records, "natural", None, None, SEQ_LEN, by="publisher")


def test_copy_numbers_cover_the_target_exactly():
    for n, target in ((10, 3), (10, 10), (10, 27), (7, 0), (1, 5)):
        slots = [c * n + p for p in range(n) for c in range(copies_for(p, n, target))]
        assert sorted(slots) == list(range(target))
    assert key_offsets({"b": 5, "a": 3, "c": 0}) == {"a": 0, "b": 3, "c": 8}
