"""gap_pipeline/local_worker.py: a multi-process local build's worker leaves out its printed copy of a
damaged-document-file traceback (the build says it in one line) and passes everything else through."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

from gap_pipeline.local_worker import WithoutDamagedFileTracebacks

DAMAGED = ("Traceback (most recent call last):\n  File \"transforms/parts.py\", line 100, in _pass\n"
           "transforms.docfiles.DocumentFileError: /o/part-000000.parquet: damaged after its first 0 documents "
           "[while running 'Filter']")
REPO = Path(__file__).resolve().parents[2]
OTHER = "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: bad rule"


def _printed(*texts: str) -> str:
    sink = io.StringIO()
    stream = WithoutDamagedFileTracebacks(sink)
    for text in texts:
        print(text, file=stream)  # how the SDK worker prints a failed bundle's traceback
    return sink.getvalue()


def test_a_damaged_file_traceback_is_left_out_with_its_newline():
    assert _printed(DAMAGED) == ""
    assert _printed("before", DAMAGED, "after") == "before\nafter\n"


def test_other_tracebacks_and_lines_pass_unchanged():
    assert _printed(OTHER) == OTHER + "\n"
    assert _printed("a log line naming DocumentFileError: kept") == "a log line naming DocumentFileError: kept\n"
    assert _printed("", DAMAGED, "") == "\n\n"  # blank lines of others are kept; only the dropped print's newline goes


def test_the_stream_keeps_the_rest_of_the_wrapped_streams_interface():
    sink = io.StringIO()
    stream = WithoutDamagedFileTracebacks(sink)
    stream.write("x")
    stream.flush()
    assert stream.getvalue() == "x" and stream.writable()


def test_the_module_starts_beams_sdk_worker():
    # without the control-service environment a real worker gets, Beam's worker main stops at once
    proc = subprocess.run([sys.executable, "-m", "gap_pipeline.local_worker"], capture_output=True, text=True,
                          timeout=120, cwd=REPO, env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0
    assert "CONTROL_API_SERVICE_DESCRIPTOR" in proc.stderr
