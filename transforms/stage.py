"""The two shapes of a stage, and how both count.

Per-document stage: a pure function `fn(doc) -> Document | Drop` named by a `schemas.stages` constant,
a `Stage` = (name, fn). `StageChain` applies a list of them in order inside a part pass
(`transforms.parts.DocumentPass`) and counts every outcome; an `fn` with a `setup()` attribute has it
called once per worker (load a model, a table):

    def too_short_fn(min_chars):
        def apply(doc):
            return doc if len(doc.text) >= min_chars else make_drop(doc, QUALITY, "too_short")
        return apply
    stages = [(QUALITY, too_short_fn(200))]

Cross-document stage (dedup, full text, PubMed updates: `transforms.keys`): a PTransform over small key
records that yields (KEPT | PASSED, key, None) or (DROPPED, key, Drop) and hands them to `counted()`,
the one router: it counts and splits kept keys from (key, Drop) pairs.

Both count through `Counters`: Beam counters `gap:<stage>:<kept | reason>`, the live view of a run (copied
to `manifest.counters`). The manifest's accounting comes from the drop files, not from these counters.
"""
from __future__ import annotations

from typing import Callable, Sequence

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.document import Document
from schemas.events import Drop

KEPT = "kept"
DROPPED = "dropped"
PASSED = "passed"   # not judged by this stage (a paper at the full-text stage): routed as kept, not counted

Stage = tuple[str, Callable[[Document], "Document | Drop"]]


class Counters:
    """Beam counters `gap:<prefix>:<reason>`, created once each (what every stage counts with)."""

    def __init__(self, prefix: str = ""):
        self._prefix = f"{prefix}:" if prefix else ""
        self._counters: dict[str, object] = {}

    def inc(self, reason: str, n: int = 1) -> None:
        counter = self._counters.get(reason)
        if counter is None:
            counter = self._counters[reason] = Metrics.counter("gap", self._prefix + reason)
        counter.inc(n)


class StageChain:
    """Apply per-document stages in order, counting each outcome; the first Drop ends the chain."""

    def __init__(self, stages: Sequence[Stage]):
        self._stages = list(stages)
        self.count = Counters().inc

    def setup(self) -> None:
        for _name, fn in self._stages:
            setup = getattr(fn, "setup", None)
            if callable(setup):
                setup()

    def __call__(self, doc: Document) -> "Document | Drop":
        for name, fn in self._stages:
            result = fn(doc)
            if isinstance(result, Drop):
                self.count(f"{name}:{result.reason}")
                return result
            self.count(f"{name}:kept")
            doc = result
        return doc


class _Counted(beam.DoFn):
    """Counts each decision as `stage:kept` / `stage:reason` and splits drops from kept keys."""

    def __init__(self, stage: str):
        self._stage = stage

    def setup(self):
        self._counters = Counters(self._stage)

    def process(self, item):
        kind, key, drop = item
        if kind == PASSED:
            yield key
        elif kind == KEPT:
            self._counters.inc("kept")
            yield key
        else:
            self._counters.inc(drop.reason)
            yield beam.pvalue.TaggedOutput(DROPPED, (key, drop))


def counted(pcoll, stage: str, label: str):
    """(KEPT | PASSED, key, None) | (DROPPED, key, Drop) -> outputs `kept` (key) and `dropped` ((key, Drop))."""
    return pcoll | label >> beam.ParDo(_Counted(stage)).with_outputs(DROPPED, main=KEPT)
