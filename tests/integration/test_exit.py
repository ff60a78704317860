"""A clean exit: nothing a build starts is left running when the interpreter finalizes.

The intermittent `terminate called without an active exception` (exit 134) after a finished `gap build`
was reproduced outside the pipeline: a script that reads a Parquet file through a *Python* file object
with `pq.read_table` and exits aborted once in ~60 runs. Arrow's pool threads call back into the Python
file; one still running at finalization is killed by pthread_exit while taking the GIL and the forced
unwind meets a noexcept C++ frame. Every Python-file Parquet read now goes through
`schemas.raw.read_parquet_file` (or a ParquetFile without pre-buffering or threads), which reads in the
calling thread only: checked here directly, plus repeated sample builds in fresh processes
(benchmarks/bench_exit.py runs many more).
"""
from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.raw import read_parquet_file

REPO = Path(__file__).resolve().parents[2]


class _ThreadSpy(io.FileIO):
    """A Python file that records which threads call read()/readinto()."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.threads: set[int] = set()

    def read(self, *args):
        self.threads.add(threading.get_ident())
        return super().read(*args)

    def readinto(self, buffer):
        self.threads.add(threading.get_ident())
        return super().readinto(buffer)


@pytest.fixture
def parquet_file(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"lang": ["en", "fr"] * 20000, "text": ["x" * 100] * 40000}), path, row_group_size=2000)
    return path


def test_python_file_reads_stay_in_the_calling_thread(parquet_file):
    me = threading.get_ident()
    with _ThreadSpy(parquet_file, "rb") as fh:
        pq.read_table(fh, columns=["lang"])
    assert fh.threads - {me}, "control: read_table calls the Python file from Arrow's threads"
    with _ThreadSpy(parquet_file, "rb") as fh:
        table = read_parquet_file(fh, columns=["lang"])
    assert table.num_rows == 40000 and fh.threads == {me}


def test_code_paths_that_read_python_files_use_the_calling_thread(parquet_file, tmp_path, monkeypatch):
    """raw store index / latest versions / part reading and the manifest's language counts."""
    from gap_pipeline import manifest
    from schemas import raw_store as reader
    from schemas.raw import RawRecord
    from scrapers import raw_store

    spies: list[_ThreadSpy] = []

    class FS:
        def open(self, path, mode="rb"):
            spy = _ThreadSpy(path, "rb")
            spies.append(spy)
            return spy

    records = [RawRecord.make(source="site", url=f"https://example.org/{i}", fetched_at="2024-01-01T00:00:00Z",
                              content_type="html", content=b"<p>x</p>" * 100, meta={}) for i in range(3000)]
    with raw_store.RawStoreWriter(str(tmp_path / "store"), "site", flush_records=5000) as writer:
        for record in records:
            writer.add(record)
    [part] = sorted((tmp_path / "store" / "site").glob("part-*.parquet"))
    assert len(reader.latest_versions([str(part)], files=FS())) == 3000
    assert sum(1 for _ in reader.read_part(str(part), files=FS())) == 3000
    assert len(raw_store._index_from_parts(FS(), [str(part)])) == 3000

    class BeamFS:
        @staticmethod
        def open(path):
            return FS().open(path)
    monkeypatch.setattr(manifest, "FileSystems", BeamFS)
    assert manifest._language_counts([str(parquet_file)]) == {"en": 20000, "fr": 20000}
    # The build's own readers: raw parts (transforms.parts) and per-part document files (transforms.docfiles).
    from apache_beam.io import filesystems

    from schemas.document import Document
    from transforms import docfiles, parts
    docs_path = str(tmp_path / "docs.parquet")
    docfiles.write_documents(docs_path, (Document(id=str(i), source="s", subset="replay", title="", text="x" * 50,
                                                  url="", license="", lang="en", lang_score=1.0, meta={})
                                         for i in range(3000)))
    monkeypatch.setattr(filesystems.FileSystems, "open", staticmethod(lambda path: FS().open(path)))
    assert sum(1 for _ in parts.iter_raw_rows(str(part))) == 3000
    assert sum(1 for _ in docfiles.read_documents(docs_path)) == 3000
    me = threading.get_ident()
    assert spies and all(spy.threads <= {me} for spy in spies), [spy.threads for spy in spies]


@pytest.mark.parametrize("run", range(2))
def test_sample_build_exits_cleanly(run, tmp_path):
    """`gap build` of the embedded sample, then `gap verify`, in fresh processes: exit 0 each time,
    nothing printed by a native abort (bench_exit.py repeats this many times)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONFAULTHANDLER": "1"}
    out = tmp_path / "corpus"
    build = subprocess.run([sys.executable, "-m", "gap_pipeline.cli", "build", "--out", str(out)],
                           capture_output=True, text=True, env=env, cwd=REPO, timeout=900)
    assert build.returncode == 0, build.stderr[-3000:]
    assert "terminate called" not in build.stderr and "Fatal Python error" not in build.stderr
    verify = subprocess.run([sys.executable, "-m", "gap_pipeline.cli", "verify", str(out)],
                            capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]
