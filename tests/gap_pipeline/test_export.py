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
    in_corpus_order = [row["id"] for part in sorted((out / "documents").glob("*.parquet"))
                       for row in pq.read_table(part, columns=["id", "source"]).to_pylist() if row["source"] != "who"]
    expected = sorted(d.id for d in docs if d.source != "who")  # WHO: NC licence, source not redistributable
    assert sorted(in_corpus_order) == expected
    assert [l["id"] for l in lines] == in_corpus_order == table.column("id").to_pylist()
    assert summary["exported"] == len(expected)
    assert summary["excluded_by_source"] == {"who": sum(d.source == "who" for d in docs)}
    by_id = {d.id: d for d in docs}
    assert all(l["text"] == by_id[l["id"]].text for l in lines)
    # Without the flag everything kept is written.
    assert main(["export", str(out)]) == 0
    assert len((out / "export" / "all" / "documents.jsonl").read_text().splitlines()) == len(docs)


def test_a_damaged_documents_file_is_one_line(corpus, tmp_path, capsys):
    import shutil
    out = tmp_path / "copy"
    shutil.copytree(corpus[0], out)
    sorted((out / "documents").glob("*.parquet"))[0].write_bytes(b"PAR1 cut short")
    assert main(["export", str(out), "--dest", str(tmp_path / "dest")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gap export: ") and "not a readable documents file" in err and err.count("\n") == 1


@pytest.mark.parametrize("fmt, theirs", [("documents", "documents.jsonl"), ("megatron", "train.bin")])
def test_a_destination_with_files_gap_did_not_write_is_refused(corpus, tmp_path, capsys, fmt, theirs):
    out, _ = corpus
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / theirs).write_text("mine\n")
    assert main(["export", str(out), "--format", fmt, "--dest", str(dest)]) == 1
    err = capsys.readouterr().err
    assert f"already holds {theirs}, not written by gap export" in err and err.count("\n") == 1
    assert (dest / theirs).read_text() == "mine\n"
    # A file where the folder should be, or a folder under a file: one line each, nothing touched.
    for bad in (dest / theirs, dest / theirs / "sub"):
        assert main(["export", str(out), "--format", fmt, "--dest", str(bad)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("gap export: ") and err.count("\n") == 1, err
    assert (dest / theirs).read_text() == "mine\n"
    # gap's own earlier export in a folder is replaced.
    assert main(["export", str(out), "--format", fmt, "--dest", str(tmp_path / "own")]) == 0
    assert main(["export", str(out), "--format", fmt, "--dest", str(tmp_path / "own")]) == 0


def test_a_documents_file_the_manifest_lists_but_is_gone_is_one_line(corpus, tmp_path, capsys):
    import shutil
    out = tmp_path / "copy"
    shutil.copytree(corpus[0], out)
    gone = sorted((out / "documents").glob("*.parquet"))[-1]
    gone.unlink()
    assert main(["export", str(out), "--dest", str(tmp_path / "dest")]) == 1
    err = capsys.readouterr().err
    assert err == f"gap export: {gone}, listed in manifest.json, is missing; run `gap verify {out}`\n"
    assert not (tmp_path / "dest" / "documents.jsonl").exists()


def test_the_export_streams_in_row_groups(corpus, tmp_path, monkeypatch):
    # one row group of documents in memory at a time: the Parquet file shows the groups it was written in
    from gap_pipeline import export
    monkeypatch.setattr(export, "ROW_GROUP_DOCUMENTS", 7)
    out, docs = corpus
    summary = export.export_documents(out, tmp_path / "dest", redistributable_only=False)
    meta = pq.ParquetFile(tmp_path / "dest" / "documents.parquet").metadata
    assert summary["exported"] == len(docs) == meta.num_rows
    assert meta.num_row_groups == -(-len(docs) // 7)
    assert sorted(p.name for p in (tmp_path / "dest").iterdir()) == ["documents.jsonl", "documents.parquet",
                                                                      "export.json"]  # no .tmp left
