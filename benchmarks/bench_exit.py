"""Clean exit: how often a process aborts at interpreter exit (`terminate called without an active
exception`, exit 134) after its work is done.

1. The mechanism, isolated: a fresh process reads a multi-row-group Parquet file through a Python file
   object and exits — with `pq.read_table` (Arrow pool threads call into Python; the old code) and with
   `schemas.raw.read_parquet_file` (calling thread only; what the pipeline now uses), interleaved.
2. The symptom: `gap build` of the embedded sample (one worker) then `gap verify`, in fresh processes.
   The report said one abort in ~15 builds; 45 builds catch that rate with 95% probability
   (the full run makes 45; GAP_BENCH_EXIT_BUILDS sets the count, --quick makes 2).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROBE = r"""
import sys
import pyarrow.parquet as pq
sys.path.insert(0, {repo!r})
from schemas.raw import read_parquet_file
with open({path!r}, "rb") as fh:
    table = pq.read_table(fh, columns=["lang"]) if sys.argv[1] == "read_table" else read_parquet_file(fh, ["lang"])
assert table.num_rows == 200000
"""


def _probe(path: str, mode: str) -> tuple[int, bool]:
    proc = subprocess.run([sys.executable, "-c", PROBE.format(repo=str(REPO), path=path), mode],
                          capture_output=True, text=True, timeout=120)
    return proc.returncode, "terminate called" in proc.stderr


def _build(out: str) -> tuple[int, bool, float]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONFAULTHANDLER": "1"}
    t0 = time.perf_counter()
    build = subprocess.run([sys.executable, "-m", "gap_pipeline.cli", "build", "--out", out],
                           capture_output=True, text=True, env=env, cwd=REPO, timeout=1200)
    seconds = time.perf_counter() - t0
    if build.returncode != 0:
        return build.returncode, "terminate called" in build.stderr, seconds
    verify = subprocess.run([sys.executable, "-m", "gap_pipeline.cli", "verify", out],
                            capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
    return (0 if verify.returncode == 0 else 1000 + verify.returncode), False, seconds


def bench(quick: bool = False) -> str:
    import pyarrow as pa
    import pyarrow.parquet as pq

    probes = 20 if quick else 150
    builds = int(os.environ.get("GAP_BENCH_EXIT_BUILDS", 2 if quick else 45))
    lines = ["## Clean exit (native abort at interpreter exit)", ""]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "t.parquet")
        pq.write_table(pa.table({"lang": ["en"] * 200000, "text": ["x" * 200] * 200000}), path, row_group_size=5000)
        stats = {mode: [0, 0] for mode in ("read_table", "read_parquet_file")}  # [nonzero exits, aborts]
        t0 = time.perf_counter()
        for _ in range(probes):
            for mode in stats:  # interleaved: machine noise hits both alike
                rc, aborted = _probe(path, mode)
                stats[mode][0] += rc != 0
                stats[mode][1] += aborted
        probe_s = time.perf_counter() - t0
        lines += [f"Read a 40-row-group Parquet file through a Python file object, then exit: {probes} fresh "
                  f"processes per variant ({probe_s:.0f} s).", "",
                  "| read | non-zero exits | `terminate called` aborts |", "|---|---:|---:|"]
        for mode, (bad, aborts) in stats.items():
            label = "`pq.read_table(fh)` (before)" if mode == "read_table" else "`read_parquet_file(fh)` (now)"
            lines.append(f"| {label} | {bad}/{probes} | {aborts}/{probes} |")
        results = [_build(os.path.join(tmp, f"corpus{i}")) for i in range(builds)]
    failed = [r for r in results if r[0] != 0]
    median = sorted(r[2] for r in results)[len(results) // 2] if results else 0.0
    lines += ["", f"`gap build` of the sample (1 worker) + `gap verify`, fresh processes: {builds} runs, "
              f"{len(failed)} failed ({sum(r[1] for r in results)} native aborts); median build {median:.1f} s.",
              "Exit codes of failures: " + (", ".join(str(r[0]) for r in failed) or "none") + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(bench(quick="--quick" in sys.argv))
