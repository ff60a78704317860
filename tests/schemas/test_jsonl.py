"""JSON Lines are split on "\\n" only: every JSONL reader gets records holding U+2028, U+2029, U+0085
and \\x1c (legal inside JSON strings, written raw by `json.dumps(..., ensure_ascii=False)`), which
`str.splitlines()` used to cut in two."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from schemas.document import Document
from schemas.events import Drop, Quarantined
from schemas.jsonl import JsonlError, jsonl_lines, read_jsonl

ODD = "a\u2028b\u2029c\u0085d\x1ce\x1df\x1eg\x0bh\x0ci"  # every separator str.splitlines() knows, bar \n \r


def odd_line(obj: dict) -> str:
    line = json.dumps(obj, ensure_ascii=False)
    assert "\u2028" in line and len(line.splitlines()) > 1  # the trap: splitlines() would cut it
    return line


def test_helper_splits_on_newline_only():
    data = odd_line({"text": ODD}) + "\r\n\n   \n" + json.dumps({"text": "two"}) + "\n"
    assert [n for n, _ in jsonl_lines(data)] == [1, 4]
    assert read_jsonl(data) == [{"text": ODD}, {"text": "two"}]
    assert read_jsonl(data.encode("utf-8")) == [{"text": ODD}, {"text": "two"}]
    # a line made only of U+2028 is not JSON whitespace: an error naming the line, not a silent skip
    with pytest.raises(JsonlError, match=r"f\.jsonl line 2: invalid JSON"):
        read_jsonl('{"a": 1}\n\u2028\n', where="f.jsonl")


def test_replay_json_lines_keep_their_records():
    from schemas.raw import RawRecord
    from transforms.extract.options import ExtractOptions
    from transforms.extract.plain import extract_plain

    content = (odd_line({"id": "r1", "title": "T", "text": "first " + ODD}) + "\n"
               + json.dumps({"id": "r2", "text": "second \u2028 line"}, ensure_ascii=False) + "\n").encode()
    raw = RawRecord.make(source="replay", url="file://replay.jsonl", fetched_at="2026-01-01T00:00:00Z",
                         content_type="json", content=content, license="CC0-1.0")
    docs = extract_plain(raw, subset="replay", options=ExtractOptions())
    assert [d.text for d in docs] == ["first " + ODD, "second \u2028 line"]


def test_replay_reader_streams_odd_records(tmp_path):
    from scrapers.bulk.replay import iter_rows

    path = tmp_path / "replay.jsonl"
    path.write_text(odd_line({"text": ODD}) + "\n\n" + json.dumps({"text": "b"}) + "\n", encoding="utf-8")
    assert [r["text"] for r in iter_rows(str(path))] == [ODD, "b"]


def _doc(doc_id: str, text: str) -> Document:
    return Document(id=doc_id, source="s", subset="papers", title="", text=text)


def test_dedup_runner_reads_back_odd_documents():
    from transforms.dedup.minhash import MinHashParams
    from transforms.keys import decide_on_documents, dedup_decisions

    words = " ".join(f"word{i}" for i in range(60))
    docs = [_doc("a" + ODD, words + " " + ODD), _doc("b" + ODD, words + " " + ODD), _doc("c", "other text " + ODD)]
    dropped, _ = decide_on_documents(docs, lambda read: dedup_decisions(read, {}, MinHashParams()))
    assert [(d.doc_id, d.detail) for d in dropped] == [("b" + ODD, "a" + ODD)]  # read back whole


def test_dedup_eval_cli_on_u0085(tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(odd_line({"id": i, "text": f"document {i} " + ODD * 3}) + "\n" for i in range(3)),
                   encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "gap_pipeline.cli", "dedup-eval", str(src), "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert [r["id"] for r in read_jsonl(out.read_text(encoding="utf-8"))] == ["0", "1", "2"]


def _event_files(out: Path, n_drops: int = 3) -> list[Drop]:
    drops = [Drop(doc_id=f"d{i}", source="s", subset="papers", stage="quality", reason="too_short", chars=5,
                  detail=f"{i} {ODD}") for i in range(n_drops)]
    (out / "dropped").mkdir(parents=True)
    (out / "dropped" / "dropped-00000-of-00001.jsonl").write_text("".join(d.to_json() + "\n" for d in drops),
                                                                  encoding="utf-8")
    (out / "quarantine").mkdir()
    q = Quarantined(source="s", url="http://127.0.0.1/x", stage="extract", error=f"bad {ODD}")
    (out / "quarantine" / "quarantine-00000-of-00001.jsonl").write_text(q.to_json() + "\n", encoding="utf-8")
    return drops


def test_manifest_and_verify_count_odd_event_lines(tmp_path):
    from gap_pipeline.manifest import iter_drops, iter_quarantined
    from gap_pipeline.verify import CorpusFiles, recount

    drops = _event_files(tmp_path)
    assert "\u2028" in drops[0].to_json()  # written raw, as the pipeline writes them
    quarantined, read = list(iter_quarantined(str(tmp_path))), list(iter_drops(str(tmp_path)))
    assert read == drops and quarantined[0]["error"] == f"bad {ODD}"
    files = CorpusFiles(tmp_path)
    listed = {"files": {"dropped/dropped-00000-of-00001.jsonl": {}, "quarantine/quarantine-00000-of-00001.jsonl": {}}}
    counts, problems = recount(files, listed, set())
    assert not problems
    assert sum(counts["drops_by_stage"]["quality"].values()) == 3 and sum(counts["quarantined"].values()) == 1


def test_report_reads_odd_drops(tmp_path):
    from gap_pipeline.report import collect

    _event_files(tmp_path)
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    assert collect(tmp_path)["drops"] == {("quality", "too_short"): 3}


def test_training_metrics_read_odd_lines(tmp_path):
    from gap_pipeline.training.metrics import MetricsLog, read_metrics

    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s, "note": ODD}, ensure_ascii=False) + "\n" for s in (1, 2, 3)),
                    encoding="utf-8")
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3]
    assert read_metrics(path)[0]["note"] == ODD
    MetricsLog(path, enabled=True, resume_step=2)  # resume cuts back to step 2, keeping whole records
    assert [(r["step"], r["note"]) for r in read_metrics(path)] == [(1, ODD), (2, ODD)]
