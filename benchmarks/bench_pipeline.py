"""End-to-end build of the embedded sample: wall time and throughput with 1 and 2 local workers."""
from __future__ import annotations

import statistics
import tempfile
import time


def bench(quick: bool = False) -> str:
    from gap_pipeline.build import run_build, sample_config_path
    from gap_pipeline.config import load_config

    cfg = load_config(sample_config_path())
    repeats = 1 if quick else 2
    rows = []
    manifest = None
    for workers in (1, 2):
        times = []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as out:
                started = time.perf_counter()
                manifest = run_build(cfg, out, workers=workers)
                times.append(time.perf_counter() - started)
        rows.append((workers, statistics.median(times)))
    acc = manifest["accounting"]
    raw_bytes = sum(s["chars_extracted"] for s in manifest["sources"].values())
    tokens = sum(s["tokens"]["train"] + s["tokens"]["validation"] for s in manifest["sources"].values())
    lines = [
        "## Pipeline (end to end, embedded sample)",
        "",
        f"`gap build` of the sample corpus: {acc['raw_records']['in']} raw records, "
        f"{acc['documents']['extracted']} documents extracted, {acc['documents']['kept']} kept, "
        f"{tokens:,} tokens before mixing; every stage including tokenizer training. "
        f"Local FnApiRunner; median of {repeats} run(s) per worker count, measured one after the other in this run.",
        "",
        "| workers | wall time (s) | documents/s | extracted MB/s | tokens/s |",
        "|---|---|---|---|---|",
    ]
    for workers, seconds in rows:
        lines.append(f"| {workers} | {seconds:.1f} | {acc['documents']['extracted'] / seconds:.1f} | "
                     f"{raw_bytes / seconds / 1e6:.2f} | {tokens / seconds:,.0f} |")
    lines += ["", "A sample this small is dominated by fixed costs (pipeline start-up, tokenizer training, "
              "worker start-up), so 2 workers on 2 cores gain little here; the per-stage benchmarks below "
              "measure the stages' own throughput.", ""]
    return "\n".join(lines)
