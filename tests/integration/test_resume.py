"""A build that dies resumes at the first unfinished phase and gives the same corpus byte for byte;
the previous corpus stays whole until the new one is verified; --out is never a folder of someone else's."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gap_pipeline.pipeline import PHASES

REPO = Path(__file__).resolve().parents[2]


def _gap_build(out: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gap_pipeline.cli", "build", "--out", str(out), *extra],
                          cwd=REPO, env={**os.environ, "GAP_PROGRESS": "1", **(env or {})},
                          capture_output=True, text=True, timeout=900)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def one_go(tmp_path_factory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("one_go") / "corpus"
    proc = _gap_build(out)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return _files(out)


@pytest.mark.parametrize("phase", PHASES)
def test_a_build_killed_after_a_phase_resumes_there_byte_identical(tmp_path, one_go, phase):
    out = tmp_path / "corpus"
    killed = _gap_build(out, env={"GAP_TEST_DIE_AFTER_PHASE": phase})
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert not (out / "manifest.json").exists()  # nothing published
    resumed = _gap_build(out)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    index = PHASES.index(phase)
    for earlier in PHASES[:index]:  # finished phases are reused, the killed one (no completion record) reruns
        assert f"{earlier}: finished earlier, reused" in resumed.stderr
    for later in PHASES[index:]:
        assert f"{later}: started" in resumed.stderr
    assert _files(out) == one_go
    assert not (out / "_build" / "work").exists() and not (out / "_build" / "staging").exists()


def test_a_rebuild_killed_while_publishing_is_finished_by_a_rerun(tmp_path, one_go):
    out = tmp_path / "corpus"
    assert _gap_build(out).returncode == 0
    killed = _gap_build(out, "--no-resume", env={"GAP_TEST_DIE_AFTER_PHASE": "publish"})
    assert killed.returncode == -9
    assert not (out / "manifest.json").exists()  # half published: visibly incomplete
    resumed = _gap_build(out)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert all(f"{phase}: finished earlier, reused" in resumed.stderr for phase in PHASES)
    assert _files(out) == one_go


def test_a_failed_rebuild_leaves_the_previous_corpus_whole(tmp_path, one_go):
    out = tmp_path / "corpus"
    assert _gap_build(out).returncode == 0
    before = _files(out)
    killed = _gap_build(out, "--no-resume", env={"GAP_TEST_DIE_AFTER_PHASE": "tokens"})
    assert killed.returncode == -9
    after = {k: v for k, v in _files(out).items() if not k.startswith("_build/work/") and not k.startswith("_build/staging/")}
    assert after == before  # manifest, shards, documents untouched while the new build was running


def test_out_holding_foreign_files_is_refused_and_never_deleted(tmp_path):
    out = tmp_path / "v"
    (out / "documents").mkdir(parents=True)
    (out / "documents" / "thesis.docx").write_bytes(b"years of work")
    proc = _gap_build(out)
    assert proc.returncode == 2
    assert "is not a gap corpus" in proc.stderr and "Traceback" not in proc.stderr
    assert (out / "documents" / "thesis.docx").read_bytes() == b"years of work"
    forced = _gap_build(out, "--force")
    assert forced.returncode == 0, forced.stderr[-2000:]
    assert (out / "documents" / "thesis.docx").read_bytes() == b"years of work"  # built beside it, not over it
    assert (out / "manifest.json").exists()
    # The next build replaces its own files only.
    again = _gap_build(out, "--force")
    assert again.returncode == 0 and (out / "documents" / "thesis.docx").exists()


def test_out_that_is_a_file_is_a_one_line_error(tmp_path):
    target = tmp_path / "corpus"
    target.write_text("not a folder")
    proc = _gap_build(target)
    assert proc.returncode == 2 and "is a file" in proc.stderr and "Traceback" not in proc.stderr
    assert target.read_text() == "not a folder"


def test_progress_line_counts_finished_parts(tmp_path):
    from gap_pipeline.build import Progress
    from gap_pipeline.pipeline import PhaseContext
    from transforms.parts import ProgressMarker

    ctx = PhaseContext(cfg={}, sources={}, parts=("a", "b", "c"), out=str(tmp_path / "s"), work=str(tmp_path / "w"))
    marker = ProgressMarker(ctx.folder("filter", "progress", "Filter"))
    marker(0, 120)
    marker(2, 30)
    line = Progress(ctx, "filter", 1).line()
    assert "phase 2/4 filter" in line and "2 part passes done (150 documents)" in line


def test_dataflow_jobs_print_their_console_link(capsys):
    from types import SimpleNamespace

    from gap_pipeline.build import _console_link

    _console_link(SimpleNamespace(job_id=lambda: "2026-11-28_01", _job=SimpleNamespace(location="europe-west1",
                                                                                        projectId="proj")))
    assert ("https://console.cloud.google.com/dataflow/jobs/europe-west1/2026-11-28_01?project=proj"
            in capsys.readouterr().err)
    _console_link(SimpleNamespace())  # a local runner's result: nothing printed
    assert capsys.readouterr().err == ""


def _killed_then_damaged(tmp_path: Path, part: int, *, keep_footer: bool, workers: int = 1) -> tuple[Path, Path]:
    """A build killed after the filter phase, then one document file of the finished extract phase damaged:
    truncated, or (keep_footer) a block inside a column chunk overwritten, which the footer cannot show."""
    out = tmp_path / "corpus"
    assert _gap_build(out, "--workers", str(workers), env={"GAP_TEST_DIE_AFTER_PHASE": "filter"}).returncode == -9
    path = out / "_build" / "work" / "extract" / "docs" / f"part-{part:06d}.parquet"
    data = bytearray(path.read_bytes())
    if keep_footer:
        middle = len(data) // 3
        data[middle:middle + 2000] = b"A" * 2000
    else:
        del data[len(data) // 2:]
    path.write_bytes(bytes(data))
    return out, path


def test_a_damaged_file_of_a_finished_phase_is_redone_not_reused(tmp_path, one_go):
    out, part = _killed_then_damaged(tmp_path, 1, keep_footer=False)
    resumed = _gap_build(out)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"extract: finished earlier, but {part}: not a complete document file" in resumed.stderr
    assert "rerunning the phase" in resumed.stderr and "Traceback" not in resumed.stderr
    assert _files(out) == one_go


def test_damage_found_only_while_reading_marks_its_phase_unfinished_for_the_next_run(tmp_path, one_go):
    out, part = _killed_then_damaged(tmp_path, 0, keep_footer=True)
    failed = _gap_build(out)
    assert failed.returncode == 2, failed.stderr[-3000:]
    assert "Traceback" not in failed.stderr, failed.stderr[-3000:]
    [line] = [ln for ln in failed.stderr.splitlines() if ln.startswith("gap build: error:")]
    assert line.startswith(f"gap build: error: phase filter: {part}: damaged after its first ")
    assert line.endswith("the extract phase is marked unfinished; run the same command again to redo it")
    assert not (out / "_build" / "work" / "extract" / "_COMPLETE.json").exists()
    again = _gap_build(out)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "extract: started" in again.stderr
    assert _files(out) == one_go


def test_damage_found_by_a_worker_process_is_one_line_too(tmp_path):
    # with --workers 2 the failing read happens in a worker process, which prints its own traceback copy
    out, part = _killed_then_damaged(tmp_path, 0, keep_footer=True, workers=2)
    failed = _gap_build(out, "--workers", "2")
    assert failed.returncode == 2, failed.stderr[-3000:]
    assert "Traceback" not in failed.stderr and "DocumentFileError" not in failed.stderr, failed.stderr[-3000:]
    [line] = [ln for ln in failed.stderr.splitlines() if ln.startswith("gap build: error:")]
    assert line.startswith(f"gap build: error: phase filter: {part}: damaged after its first ")
    assert not (out / "_build" / "work" / "extract" / "_COMPLETE.json").exists()
