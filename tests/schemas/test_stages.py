"""schemas/stages.py: stage names declared once, and stage_rank, the sort key that puts stages in the build's
order (the manifest's docs_in/docs_out chain and the report's stage table rely on it)."""
from __future__ import annotations

import random

from schemas import stages
from schemas.stages import STAGE_ORDER, stage_rank

NAMES = {name: value for name, value in vars(stages).items() if name.isupper() and isinstance(value, str)}


def test_every_declared_stage_is_in_the_order_exactly_once():
    assert sorted(NAMES.values()) == sorted(STAGE_ORDER)
    assert len(set(STAGE_ORDER)) == len(STAGE_ORDER)


def test_names_are_safe_as_counter_prefixes_and_manifest_keys():
    # Beam counters are `stage:reason` and stats keys are tab-separated: a name holds neither.
    for name in STAGE_ORDER:
        assert name and name == name.lower() and name.replace("_", "").isalpha(), name


def test_the_phases_run_extract_then_filters_then_dedup():
    rank = STAGE_ORDER.index
    assert STAGE_ORDER[0] == stages.EXTRACT and STAGE_ORDER[-1] == stages.DECONTAMINATE
    filters = [stages.PUBMED_UPDATES, stages.BOILERPLATE, stages.CLEAN, stages.QUALITY]
    dedup = [stages.FULLTEXT, stages.DEDUP_EXACT, stages.DEDUP_NEAR, stages.LANGUAGE, stages.DECONTAMINATE]
    assert [rank(s) for s in filters] == sorted(rank(s) for s in filters)
    assert max(rank(s) for s in filters) < min(rank(s) for s in dedup)
    assert [rank(s) for s in dedup] == sorted(rank(s) for s in dedup)


def test_sorting_by_stage_rank_restores_the_build_order_from_any_order():
    shuffled = list(STAGE_ORDER)
    for seed in range(5):
        random.Random(seed).shuffle(shuffled)
        assert tuple(sorted(shuffled, key=stage_rank)) == STAGE_ORDER


def test_unknown_stages_come_after_the_known_ones_by_name():
    mixed = ["zeta", stages.QUALITY, "alpha", stages.EXTRACT, "décontamination", stages.DEDUP_NEAR, ""]
    assert sorted(mixed, key=stage_rank) == [stages.EXTRACT, stages.QUALITY, stages.DEDUP_NEAR,
                                             "", "alpha", "décontamination", "zeta"]
    assert stage_rank("alpha") < stage_rank("zeta")
    assert stage_rank(stages.DECONTAMINATE) < stage_rank("")  # any unknown name ranks after the last stage
