"""Run a dedup PTransform over an in-memory list of documents on Beam's local runner.

For `gap dedup-eval`, tests and benchmarks: results leave the pipeline through files (the local
runner may execute DoFns in other processes, so appending to a Python list would see nothing).
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions

from schemas.document import Document
from schemas.events import Drop, drop_from_json
from schemas.jsonl import jsonl_lines


def _read_lines(prefix: str) -> list[str]:
    lines: list[str] = []
    for part in sorted(Path(prefix).parent.glob(Path(prefix).name + "*")):
        lines.extend(line for _, line in jsonl_lines(part.read_bytes()))
    return lines


def run_dedup_transform(transform: beam.PTransform, docs: list[Document],
                        options: PipelineOptions | None = None) -> tuple[list[Document], list[Drop]]:
    """Apply `transform` (outputs `kept`, `dropped`) to `docs`; returns (kept, dropped) lists."""
    with tempfile.TemporaryDirectory(prefix="gap-dedup-") as tmp:
        kept_prefix, dropped_prefix = os.path.join(tmp, "kept"), os.path.join(tmp, "dropped")
        with beam.Pipeline(options=options or PipelineOptions(["--runner=DirectRunner"])) as pipeline:
            out = pipeline | "Docs" >> beam.Create(docs, reshuffle=True) | transform
            (out["kept"] | "KeptJson" >> beam.Map(lambda d: json.dumps(d.to_row(), ensure_ascii=False))
             | "WriteKept" >> beam.io.WriteToText(kept_prefix))
            (out["dropped"] | "DroppedJson" >> beam.Map(lambda d: d.to_json())
             | "WriteDropped" >> beam.io.WriteToText(dropped_prefix))
        kept = [Document.from_row(json.loads(line)) for line in _read_lines(kept_prefix)]
        dropped = [drop_from_json(line) for line in _read_lines(dropped_prefix)]
    return kept, dropped


class ExactThenNear(beam.PTransform):
    """Exact dedup, then near dedup on its survivors: a dict with `kept` and `dropped` (both stages)."""

    def __init__(self, params, priority, exact: bool = True, near: bool = True):
        super().__init__()
        self._params, self._priority, self._exact, self._near = params, dict(priority), exact, near

    def expand(self, docs):
        from transforms.dedup.exact import ExactDedup
        from transforms.dedup.near import NearDedup

        drops = []
        if self._exact:
            exact = docs | "Exact" >> ExactDedup(self._priority)
            docs = exact.kept
            drops.append(exact.dropped)
        if self._near:
            near = docs | "Near" >> NearDedup(self._params, self._priority)
            docs = near.kept
            drops.append(near.dropped)
        dropped = (drops | "AllDrops" >> beam.Flatten()) if drops else (
            docs.pipeline | "NoDrops" >> beam.Create([]))
        return {"kept": docs, "dropped": dropped}
