"""The redistribution licence rule and `gap export --redistributable` (gap_pipeline/export.py)."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from gap_pipeline.cli import main
from gap_pipeline.export import licence_allows_redistribution


@pytest.mark.parametrize("licence,ok", [
    ("CC-BY-4.0", True), ("CC-BY-SA-3.0", True), ("cc0", True), ("public-domain", True), ("OGL-UK-3.0", True),
    ("CC-BY-NC-SA-3.0-IGO", False), ("CC-BY-ND-4.0", False), ("all-rights-reserved", False),
    ("nlm-terms", False), ("", False), ("unknown", False),
])
def test_licence_rule(licence, ok):
    assert licence_allows_redistribution(licence) is ok


def test_export_redistributable(corpus, capsys):
    out, docs = corpus
    assert main(["export", str(out), "--redistributable"]) == 0
    summary = json.loads(capsys.readouterr().out)
    dest = out / "export" / "redistributable"
    lines = [json.loads(l) for l in (dest / "documents.jsonl").read_text().splitlines()]
    table = pq.read_table(dest / "documents.parquet")
    expected = sorted(d.id for d in docs if d.source != "who")  # WHO: NC licence, source not redistributable
    assert [l["id"] for l in lines] == expected == table.column("id").to_pylist()
    assert summary["exported"] == len(expected)
    assert summary["excluded_by_source"] == {"who": sum(d.source == "who" for d in docs)}
    by_id = {d.id: d for d in docs}
    assert all(l["text"] == by_id[l["id"]].text for l in lines)
    # Without the flag everything kept is written.
    assert main(["export", str(out)]) == 0
    assert len((out / "export" / "all" / "documents.jsonl").read_text().splitlines()) == len(docs)
