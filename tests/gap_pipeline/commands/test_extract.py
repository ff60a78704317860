"""`gap extract`: gzip accepted for every kind, and a failing file is reported on stderr and skipped."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from gap_pipeline.cli import main
from gap_pipeline.commands import extract as extract_command

REPO = Path(__file__).resolve().parents[3]
WORDS = " ".join(f"Asthma control word{i} improves with inhaled corticosteroids." for i in range(40))
HTML = (f"<!DOCTYPE html><html><head><title>Asthma page</title></head><body><main><h1>Asthma</h1><p>{WORDS}</p>"
        "</main></body></html>").encode()
JATS = (b'<article><front><article-meta><title-group><article-title>A paper</article-title></title-group>'
        b'</article-meta></front><body><p>' + WORDS.encode() + b'</p></body></article>')


def _run(capsys, *args) -> tuple[int, list[dict], str]:
    code = main(["extract", *map(str, args)])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.split("\n") if line], err


@pytest.mark.parametrize("name,content,kind", [
    ("page.html.gz", gzip.compress(HTML), "html"),
    ("notes.txt.gz", gzip.compress(WORDS.encode()), "text"),
    ("paper.xml.gz", gzip.compress(JATS), "jats"),
])
def test_gzipped_files_of_every_kind(tmp_path, capsys, name, content, kind):
    path = tmp_path / name
    path.write_bytes(content)
    code, docs, err = _run(capsys, path)
    assert code == 0, err
    [doc] = docs
    assert "word39 improves" in doc["text"]
    assert f"{name}: {kind}: 1 documents" in err


def test_gzipped_html_same_as_plain(tmp_path, capsys):
    (tmp_path / "a.html").write_bytes(HTML)
    (tmp_path / "a.html.gz").write_bytes(gzip.compress(HTML))
    code, docs, _ = _run(capsys, tmp_path / "a.html", tmp_path / "a.html.gz")
    assert code == 0 and docs[0]["text"] == docs[1]["text"] and docs[0]["title"] == "Asthma page"


def test_batch_with_broken_files_reports_each_and_goes_on(tmp_path, capsys):
    files = {
        "good1.html": HTML,
        "bad.html.gz": b"\x1f\x8b\x08\x00 not really gzip",
        "bad.pdf": b"%PDF-1.4 nothing else",
        "bad.xml": b'<?xml version="1.0"?><!DOCTYPE article [<!ENTITY x SYSTEM "file:///etc/passwd">]><article>&x;</article>',
        "good2.txt.gz": gzip.compress(WORDS.encode()),
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    paths = [tmp_path / name for name in files] + [tmp_path / "missing.html", tmp_path]
    code, docs, err = _run(capsys, *paths)
    assert code == 1
    assert len(docs) == 2 and all("word39" in d["text"] for d in docs)
    lines = err.strip().split("\n")
    def line_of(name):
        [line] = [x for x in lines if x.startswith(f"gap extract: {tmp_path / name}:")]
        return line
    assert "gzip" in line_of("bad.html.gz")
    assert "pdf:" in line_of("bad.pdf") and "PDF" in line_of("bad.pdf")
    assert "jats:" in line_of("bad.xml") and "entities" in line_of("bad.xml")
    assert "No such file" in line_of("missing.html")
    assert "Is a directory" in [x for x in lines if x.startswith(f"gap extract: {tmp_path}:")][0]
    assert "1 documents" in line_of("good1.html") and "1 documents" in line_of("good2.txt.gz")
    assert lines[-1] == f"gap extract: 5 of {len(paths)} files failed"
    assert "Traceback" not in err


def test_unexpected_error_in_one_file_is_reported_not_raised(tmp_path, capsys, monkeypatch):
    import transforms.extract as extract_module

    real = extract_module.extract_record

    def flaky(raw, **kw):
        if raw.url.endswith("boom.html"):
            raise RuntimeError("All strings must be XML compatible")
        return real(raw, **kw)

    monkeypatch.setattr(extract_module, "extract_record", flaky)
    (tmp_path / "boom.html").write_bytes(HTML)
    (tmp_path / "fine.html").write_bytes(HTML)
    code, docs, err = _run(capsys, tmp_path / "boom.html", tmp_path / "fine.html")
    assert code == 1 and len(docs) == 1
    assert f"{tmp_path / 'boom.html'}: html: RuntimeError: All strings must be XML compatible" in err


def test_cli_process_has_no_traceback(tmp_path):
    (tmp_path / "page.html.gz").write_bytes(gzip.compress(HTML))
    (tmp_path / "bad.html.gz").write_bytes(gzip.compress(HTML)[:30])
    proc = subprocess.run([sys.executable, "-m", "gap_pipeline.cli", "extract", str(tmp_path / "page.html.gz"),
                           str(tmp_path / "bad.html.gz")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "bad.html.gz" in proc.stderr
    assert json.loads(proc.stdout.split("\n")[0])["title"] == "Asthma page"


def test_sniff_kind_sees_through_gzip():
    assert extract_command.sniff_kind(gzip.compress(HTML)) == "html"
