"""scrapers/bulk/state.py: the JSON file that remembers which bulk files are done across runs (written
atomically; a damaged file is an error naming it, never a silent restart or a wrong answer)."""
from __future__ import annotations

import json

import pytest

from scrapers.bulk.state import BulkState


def test_done_keys_and_extras_survive_a_new_run(tmp_path):
    path = tmp_path / "cache" / "pubmed" / "state.json"  # folders made on first save
    state = BulkState(path)
    assert not state.is_done("pubmed26n0001.xml.gz") and state.data == {"done": []}
    state.mark_done("pubmed26n0001.xml.gz")
    state.mark_done("pubmed26n0002.xml.gz", deleted_pmids=["12", "3"])
    state.mark_done("pubmed26n0001.xml.gz")  # again: no duplicate
    again = BulkState(str(path))
    assert again.data == {"done": ["pubmed26n0001.xml.gz", "pubmed26n0002.xml.gz"], "deleted_pmids": ["12", "3"]}
    assert again.is_done("pubmed26n0002.xml.gz") and not again.is_done("pubmed26n0003.xml.gz")


def test_every_mark_is_saved_at_once_atomically_and_deterministically(tmp_path):
    path = tmp_path / "state.json"
    state = BulkState(path)
    state.mark_done("b", z=1, a=[2])
    first = path.read_bytes()
    assert json.loads(first) == {"done": ["b"], "z": 1, "a": [2]}
    assert list(json.loads(first)) == ["a", "done", "z"]  # sorted keys: the same state, the same bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]  # the .tmp was renamed over it
    state.save()
    assert path.read_bytes() == first


def test_an_extra_value_is_replaced_not_merged(tmp_path):
    state = BulkState(tmp_path / "state.json")
    state.mark_done("f1", deleted_pmids=["1"])
    state.mark_done("f2", deleted_pmids=["1", "2"])
    assert BulkState(tmp_path / "state.json").data["deleted_pmids"] == ["1", "2"]


def test_unicode_keys_round_trip(tmp_path):
    state = BulkState(tmp_path / "state.json")
    keys = ["oa_comm_xml.PMC-Élève.baseline.tar.gz", "file\u2028with-separator", "日本語.xml"]
    for key in keys:
        state.mark_done(key)
    assert BulkState(tmp_path / "state.json").data["done"] == keys


def test_without_a_path_state_lives_in_memory_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for path in (None, ""):
        state = BulkState(path)
        state.mark_done("a", note="x")
        assert state.path is None and state.is_done("a") and state.data["note"] == "x"
    assert list(tmp_path.iterdir()) == []


def test_a_file_without_a_done_list_starts_with_none_done(tmp_path):
    (tmp_path / "state.json").write_text('{"deleted_pmids": ["5"]}', encoding="utf-8")
    state = BulkState(tmp_path / "state.json")
    assert state.data == {"done": [], "deleted_pmids": ["5"]} and not state.is_done("x")


@pytest.mark.parametrize("content, message", [
    (b'{"done": ["pubmed26n0001.xml.gz", "pubm', "is not valid JSON"),  # truncated
    (b"", "is not valid JSON"),
    (b'{"done": ["caf\xe9"]}', "is not valid JSON"),  # not UTF-8
    (b'["a", "b"]', "must hold a JSON object whose 'done' is a list"),
    (b'{"done": "pubmed26n0001.xml.gz"}', "must hold a JSON object whose 'done' is a list"),
])
def test_a_damaged_file_is_an_error_naming_it(tmp_path, content, message):
    path = tmp_path / "state.json"
    path.write_bytes(content)
    with pytest.raises(ValueError) as info:
        BulkState(path)
    assert str(info.value).startswith(f"bulk state file {path} ") and message in str(info.value)
    assert "\n" not in str(info.value)
