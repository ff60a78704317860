"""Hard per-document limits of PDF extraction (transforms/extract/pdf_guard.py): a document that
overruns pdf_timeout_s is stopped by killing its child process, a crashing child is an ExtractError,
the text cap holds, and the isolated path gives byte-identical documents to the in-process one."""
from __future__ import annotations

import dataclasses
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from schemas.document import Document
from schemas.raw import RawRecord
from testkit.realdata import need, per_file
from tests.transforms.extract._pdfmaker import PageSpec, Run, make_pdf, paragraph_runs
from tests.transforms.extract.test_pdf_real import ALL, PDF_DIR, extracted
from transforms.extract import extract_record, pdf_guard
from transforms.extract.errors import ExtractError
from transforms.extract.options import ExtractOptions
from transforms.extract.pdf import extract_pdf, read_text

PROSE = ["Clinicians should offer a structured assessment to every adult presenting",
         "with chest pain and record the findings in the notes before any treatment",
         "decision is made, including the time of onset and associated symptoms."]
ONE_SECOND = ExtractOptions(pdf_timeout_s=1)


def _raw(content: bytes, url: str = "https://example.org/doc.pdf") -> RawRecord:
    return RawRecord.make(source="testsrc", url=url, fetched_at="2024-01-01T00:00:00Z", content_type="pdf",
                          content=content, license="CC-BY-4.0")


def _tiny_objects_page(n: int) -> PageSpec:
    """One page of n one-letter text objects: pdfminer's layout analysis is superlinear in them
    (8,000 take ~2 s here, 40,000 far longer)."""
    return PageSpec([Run(50 + (i % 100) * 5, 50 + (i // 100) * 0.7, "x", 2) for i in range(n)])


GOOD = make_pdf([PageSpec(paragraph_runs(72, 700, PROSE))])


# Work functions for the child: module level, so they are pickled by reference.
def _pid() -> int:
    return os.getpid()


def _sleep_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _die_by_signal() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _exit_hard() -> None:
    os._exit(3)


def _allocate(n_bytes: int) -> int:
    return len(bytearray(n_bytes))


def _raise_value_error() -> None:
    raise ValueError("a parser bug")


def _limited(func, *args, timeout_s: float = 10, mode: str = "process"):
    return pdf_guard.run_limited(func, args, timeout_s=timeout_s, mode=mode)


@pytest.fixture(autouse=True)
def _default_isolation(monkeypatch):
    monkeypatch.delenv(pdf_guard.ISOLATION_ENV, raising=False)


# ---------------------------------------------------------------------------------------------------
# Time limit

def test_slow_pdf_is_stopped_at_the_time_limit_and_the_next_document_extracts():
    slow = make_pdf([_tiny_objects_page(40_000)])
    before = _limited(_pid)
    started = time.monotonic()
    with pytest.raises(ExtractError, match=r"PDF extraction exceeded 1s \(pdf_timeout_s\)"):
        extract_pdf(_raw(slow), subset="guidelines", options=ONE_SECOND, rules={})
    assert time.monotonic() - started < 4.0  # 1 s limit + kill; not the tens of seconds the page takes
    # The stuck child was killed; the next document gets a fresh one and extracts normally.
    [doc] = extract_pdf(_raw(GOOD), subset="guidelines", options=ONE_SECOND, rules={})
    assert isinstance(doc, Document) and "structured assessment" in doc.text
    after = _limited(_pid)
    assert after != before
    with pytest.raises(ProcessLookupError):
        os.kill(before, 0)  # gone, not left running in the background


def test_dispatcher_quarantine_reason_is_the_timeout():
    slow = make_pdf([_tiny_objects_page(40_000)])
    with pytest.raises(ExtractError) as caught:
        extract_record(_raw(slow), subset="guidelines", options=ONE_SECOND, rules={})
    assert str(caught.value).startswith("PDF extraction exceeded 1s")


def test_child_is_reused_across_documents():
    first = _limited(_pid)
    for _ in range(3):
        extract_pdf(_raw(GOOD), subset="guidelines", options=ExtractOptions(), rules={})
    assert _limited(_pid) == first != os.getpid()


def _length(data: bytes) -> int:
    return len(data)


def test_children_work_under_a_global_socket_timeout():
    """Beam's GCP auth calls socket.setdefaulttimeout(60) (on Dataflow workers, and wherever gs:// is
    read): sockets created afterwards are non-blocking underneath, and the pipe to the child then failed
    with EAGAIN on any message larger than the socket buffer, i.e. on real PDFs."""
    import socket

    pdf_guard.shutdown()   # children started before the timeout was set would hide the problem
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(60)
    try:
        payload = b"%PDF" * (2 << 20)   # 8 MiB each way, far beyond a socketpair's buffer
        assert _limited(_length, payload) == len(payload)
        [doc] = extract_pdf(_raw(GOOD), subset="guidelines", options=ExtractOptions(), rules={})
        assert "structured assessment" in doc.text
    finally:
        socket.setdefaulttimeout(previous)
        pdf_guard.shutdown()


def test_generic_timeout_on_a_sleeping_child():
    started = time.monotonic()
    with pytest.raises(ExtractError, match=r"exceeded 0.5s"):
        _limited(_sleep_then_pid, 30, timeout_s=0.5)
    assert time.monotonic() - started < 3.0
    assert _limited(_sleep_then_pid, 0, timeout_s=10) != os.getpid()


def test_concurrent_callers_get_their_own_children():
    """Beam's multi-threaded runner calls from several threads: no child is shared mid-document."""
    barrier = threading.Barrier(2)

    def work(_):
        barrier.wait()
        return _limited(_sleep_then_pid, 0.3)

    with ThreadPoolExecutor(2) as pool:
        pids = list(pool.map(work, range(2)))
    assert len(set(pids)) == 2 and os.getpid() not in pids


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


_STDIN_SCRIPT = """
import os, sys
from tests.transforms.extract.test_pdf_guard import _limited, _pid, _sleep_then_pid
print(os.getpid(), _limited(_pid), flush=True)
_limited(_sleep_then_pid, 60, timeout_s=120)
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_child_works_under_a_stdin_main_and_dies_with_its_parent():
    """A parent whose __main__ is not a file (stdin, notebook) still gets a real child, and a child
    stuck in a document does not outlive a parent that is killed."""
    import subprocess
    import sys
    repo = Path(__file__).resolve().parents[3]
    parent = subprocess.Popen([sys.executable, "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=repo,
                              env={**os.environ, "PYTHONPATH": str(repo)})
    parent.stdin.write(_STDIN_SCRIPT)
    parent.stdin.close()
    parent_pid, child_pid = map(int, parent.stdout.readline().split())
    assert child_pid != parent_pid  # not the in-process fallback
    assert _running(child_pid)
    parent.kill()
    parent.wait(5)
    deadline = time.monotonic() + 5
    while _running(child_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(child_pid)
    assert "cannot start an extraction child" not in parent.stderr.read()


# ---------------------------------------------------------------------------------------------------
# Crashes and memory

@pytest.mark.parametrize("func, reason", [(_die_by_signal, "killed by SIGKILL"), (_exit_hard, "exit code 3")])
def test_crashing_child_is_an_extract_error(func, reason):
    with pytest.raises(ExtractError, match=f"crashed: child process died \\({reason}"):
        _limited(func)
    [doc] = extract_pdf(_raw(GOOD), subset="guidelines", options=ExtractOptions(), rules={})
    assert "structured assessment" in doc.text


def test_runaway_memory_is_an_extract_error_and_the_child_survives():
    before = _limited(_pid)
    with pytest.raises(ExtractError, match="out of memory"):
        _limited(_allocate, pdf_guard.CHILD_MEMORY_BYTES + (1 << 30))
    assert _limited(_allocate, 1 << 20) == 1 << 20
    assert _limited(_pid) == before


def test_other_exceptions_come_back_as_themselves():
    before = _limited(_pid)
    with pytest.raises(ValueError, match="a parser bug"):
        _limited(_raise_value_error)
    assert _limited(_pid) == before


def test_zero_timeout_refuses_without_running():
    with pytest.raises(ExtractError, match="pdf_timeout_s"):
        extract_pdf(_raw(GOOD), subset="guidelines", options=ExtractOptions(pdf_timeout_s=0), rules={})


# ---------------------------------------------------------------------------------------------------
# Size limit

@dataclasses.dataclass(frozen=True)
class _SmallTextCap(ExtractOptions):
    pdf_max_text_chars: int = 300


@pytest.mark.parametrize("mode", ["process", "inline"])
def test_text_size_cap(mode):
    content = make_pdf([PageSpec(paragraph_runs(72, 700, [f"Section {n}."] + PROSE)) for n in range(3)])
    with pytest.raises(ExtractError, match=r"exceeds 300 characters \(pdf_max_text_chars\) at page 2"):
        extract_pdf(_raw(content), subset="guidelines", options=_SmallTextCap(), rules={}, isolation=mode)
    [doc] = extract_pdf(_raw(content), subset="guidelines", options=_SmallTextCap(pdf_max_text_chars=10_000),
                        rules={}, isolation=mode)
    assert doc.text.count("structured assessment") == 3


def test_default_text_cap_is_enforced_on_the_assembled_text():
    content = make_pdf([PageSpec(paragraph_runs(72, 700, PROSE))])
    assert read_text(content, max_pages=5, timeout_s=10, max_chars=1000).pages == 1
    with pytest.raises(ExtractError, match="exceeds 100"):
        read_text(content, max_pages=5, timeout_s=10, max_chars=100)


# ---------------------------------------------------------------------------------------------------
# In-process mode

def test_mode_selection(monkeypatch):
    assert pdf_guard.isolation_mode(ExtractOptions()) == "process"
    monkeypatch.setenv(pdf_guard.ISOLATION_ENV, "inline")
    assert pdf_guard.isolation_mode(ExtractOptions()) == "inline"
    monkeypatch.setenv(pdf_guard.ISOLATION_ENV, "threads")
    with pytest.raises(ValueError, match="threads"):
        pdf_guard.isolation_mode(ExtractOptions())


def test_inline_mode_runs_in_this_process_with_the_between_pages_limit(monkeypatch):
    monkeypatch.setenv(pdf_guard.ISOLATION_ENV, "inline")
    assert _limited(_pid, mode="inline") == os.getpid()
    # Page 1 takes ~1 s here: four times the limit, so the check before page 2 fires however fast the machine.
    slow = make_pdf([_tiny_objects_page(6_000), PageSpec(paragraph_runs(72, 700, PROSE))])
    with pytest.raises(ExtractError, match=r"exceeded 0.25s \(pdf_timeout_s\) at page 2"):
        extract_pdf(_raw(slow), subset="guidelines", options=ExtractOptions(pdf_timeout_s=0.25), rules={})


@pytest.mark.parametrize("content, reason", [
    (make_pdf([PageSpec(paragraph_runs(72, 700, PROSE))], encrypted=True), "encrypted"),
    (make_pdf([PageSpec(drawing="0.5 g 72 72 468 648 re f")]), "image-only"),
    (b"%PDF-1.7\n" + b"\x00\xff" * 500, "corrupt"),
    (b"<html>oops</html>", "not a PDF"),
])
def test_refusals_identical_in_both_modes(content, reason):
    messages = []
    for mode in ("process", "inline"):
        with pytest.raises(ExtractError, match=reason) as caught:
            extract_pdf(_raw(content), subset="guidelines", options=ExtractOptions(), rules={}, isolation=mode)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]


# ---------------------------------------------------------------------------------------------------
# Same documents from both paths on the real PDFs

@pytest.fixture(scope="module")
def both_modes(realdata):
    """Every real PDF extracted once per mode, the two modes side by side (2 cores). The isolated
    side reuses test_pdf_real's session cache (its extraction runs in the default "process" mode),
    so a run of the whole area extracts each PDF only once more here."""
    paths = [realdata / PDF_DIR / name for name in ALL if (realdata / PDF_DIR / name).is_file()]
    assert pdf_guard.isolation_mode(ExtractOptions()) == "process"

    def inline(path: Path):
        raw = RawRecord.make(source="pdfs", url=f"file://{path}", fetched_at="2024-01-01T00:00:00Z",
                             content_type="pdf", content=path.read_bytes())
        return extract_pdf(raw, subset="guidelines", options=ExtractOptions(), rules={}, isolation="inline")

    with ThreadPoolExecutor(1) as pool:
        isolated = [pool.submit(extracted, str(path)) for path in paths]
        by_name = {path.relative_to(realdata / PDF_DIR).as_posix(): inline(path) for path in paths}
        inline_docs = {name: docs[0] for name, docs in by_name.items()}
        isolated_docs = {path.relative_to(realdata / PDF_DIR).as_posix(): f.result()
                         for path, f in zip(paths, isolated)}
    return isolated_docs, inline_docs


@pytest.mark.parametrize("name", per_file(PDF_DIR, ALL))
def test_isolated_extraction_is_byte_identical_on_real_pdfs(both_modes, realdata, name):
    isolated, inline = both_modes
    if name not in inline:
        need(realdata, f"{PDF_DIR}/{name}")
    a, b = isolated[name], inline[name]
    assert isinstance(a, Document) and len(a.text) > 1000
    assert a.text.encode() == b.text.encode()
    assert a == b


# ---------------------------------------------------------------------------------------------------
# Inside a Beam worker

def _extract_or_reason(item: tuple[int, bytes]) -> tuple[int, str]:
    number, content = item
    try:
        [doc] = extract_pdf(_raw(content, url=f"https://example.org/{number}.pdf"), subset="guidelines",
                            options=ONE_SECOND, rules={})
        return number, "ok: " + doc.text[:30]
    except ExtractError as exc:
        return number, str(exc)


def test_time_limit_holds_inside_a_multithreaded_beam_pipeline():
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.testing.util import assert_that, equal_to

    slow = make_pdf([_tiny_objects_page(40_000)])
    items = [(0, GOOD), (1, slow), (2, GOOD)]
    ok = "ok: " + " ".join(PROSE)[:30]
    timeout = "PDF extraction exceeded 1s (pdf_timeout_s); child process stopped"
    options = PipelineOptions(["--runner=DirectRunner", "--direct_num_workers=2",
                               "--direct_running_mode=multi_threading"])
    started = time.monotonic()
    with beam.Pipeline(options=options) as pipeline:
        results = pipeline | beam.Create(items) | beam.Map(_extract_or_reason)
        assert_that(results, equal_to([(0, ok), (1, timeout), (2, ok)]))
    assert time.monotonic() - started < 30


def test_falls_back_to_inline_once_when_no_child_can_start(monkeypatch, caplog):
    monkeypatch.setattr(pdf_guard, "_unavailable", "")
    monkeypatch.setattr(pdf_guard, "_idle", [])
    monkeypatch.setattr(pdf_guard.sys, "executable", "/nonexistent/python")
    assert _limited(_pid) == os.getpid()
    assert "cannot start an extraction child" in caplog.text and "nonexistent" in pdf_guard._unavailable
    [doc] = extract_pdf(_raw(GOOD), subset="guidelines", options=ExtractOptions(), rules={})
    assert "structured assessment" in doc.text
    assert caplog.text.count("cannot start an extraction child") == 1
