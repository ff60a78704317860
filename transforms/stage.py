"""The shared Beam wrapper for per-document stages.

A per-document stage is a pure function `fn(doc) -> Document | Drop`. `DocumentStage` maps it over a
PCollection, routes drops to a tagged output and counts every outcome with a Beam counter named
`stage:reason` (`stage:kept` for survivors), as DESIGN.md asks.
"""
from __future__ import annotations

from typing import Callable

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.document import Document
from schemas.events import Drop

DROPPED = "dropped"
QUARANTINED = "quarantined"


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


class _ApplyStage(beam.DoFn):
    def __init__(self, stage: str, fn: Callable[[Document], "Document | Drop"]):
        self._stage = stage
        self._fn = fn
        self._counters = Counters(stage)

    def _count(self, reason: str) -> None:
        self._counters.inc(reason)

    def setup(self) -> None:
        setup = getattr(self._fn, "setup", None)
        if callable(setup):
            setup()

    def process(self, doc: Document):
        result = self._fn(doc)
        if isinstance(result, Drop):
            self._count(result.reason)
            yield beam.pvalue.TaggedOutput(DROPPED, result)
        else:
            self._count("kept")
            yield result


class DocumentStage(beam.PTransform):
    """Apply `fn` to each document; returns a DoOutputsTuple with the main output and `dropped`."""

    def __init__(self, stage: str, fn: Callable[[Document], "Document | Drop"]):
        super().__init__(label=stage)
        self._stage = stage
        self._fn = fn

    def expand(self, docs):
        return docs | beam.ParDo(_ApplyStage(self._stage, self._fn)).with_outputs(DROPPED, main="kept")
