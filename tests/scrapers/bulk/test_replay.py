"""Replay sampling from local JSON Lines, Parquet and Arrow files: deterministic, within the token budget."""
from __future__ import annotations

import json

from scrapers.bulk.replay import sample_replay
from tests.scrapers.bulk._helpers import _replay_files


def test_replay_deterministic_sample_within_budget(tmp_path):
    paths = _replay_files(tmp_path)
    budget = 5000
    first = list(sample_replay(paths, token_budget=budget, seed=7))
    again = list(sample_replay(list(reversed(paths)), token_budget=budget, seed=7))
    assert [r.content for r in first] == [r.content for r in again]
    used = sum(r.meta_dict()["estimated_tokens"] for r in first)
    assert budget * 0.9 <= used <= budget
    formats = {r.meta_dict()["replay_path"].rsplit(".", 1)[-1] for r in first}
    assert formats == {"gz", "parquet", "arrow"}  # all three formats were read
    other = list(sample_replay(paths, token_budget=budget, seed=8))
    assert {r.url for r in other} != {r.url for r in first}
    item = json.loads(first[0].content)
    assert item["id"].startswith("doc") and first[0].license == "CC BY-SA" and first[0].content_type == "json"
    bigger = {r.url for r in sample_replay(paths, token_budget=2 * budget, seed=7)}
    assert {r.url for r in first} <= bigger  # a larger budget extends the same sample
