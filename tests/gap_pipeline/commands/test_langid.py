"""`gap langid`: what stdin may hold (the language decisions: tests/transforms/test_language.py)."""
from __future__ import annotations

import json
import subprocess
import sys

EN = "Adults with community acquired pneumonia should receive amoxicillin for five days. "


def _langid(data: bytes, *args):
    return subprocess.run([sys.executable, "-m", "gap_pipeline.cli", "langid", *args], input=data,
                          capture_output=True, timeout=120)


def test_invalid_utf8_on_stdin_is_an_error_not_text():
    proc = _langid((EN * 3).encode() + b"\xff\xfe")
    assert proc.returncode == 1 and proc.stdout == b""
    assert proc.stderr.decode() == "gap langid: stdin is not valid UTF-8 text\n"


def test_jsonl_invalid_utf8_line_is_named_and_the_others_judged():
    lines = (json.dumps({"id": "a", "text": EN}).encode() + b"\n" + b'{"id": "b", "text": "\xff"}\n'
             + json.dumps({"id": "c", "text": EN + "\u2028" + EN}, ensure_ascii=False).encode() + b"\n")
    proc = _langid(lines, "--jsonl")
    out = [json.loads(line) for line in proc.stdout.decode().split("\n") if line]
    assert [o["id"] for o in out] == ["a", None, "c"] and out[0]["lang"] == out[2]["lang"] == "en"
    assert out[1] == {"id": None, "line": 2, "error": "not valid UTF-8"}
    assert proc.returncode == 1 and proc.stderr.decode() == "gap langid: stdin line 2: not valid UTF-8\n"
