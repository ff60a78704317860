"""The stage shapes (transforms/stage.py): `StageChain` for per-document stages, `counted()` for
cross-document decisions; both count `stage:kept` / `stage:reason`."""
from __future__ import annotations

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.testing.util import assert_that, equal_to

from schemas.document import Document
from schemas.events import Drop, make_drop
from transforms.stage import DROPPED, KEPT, PASSED, StageChain, counted


def _doc(i: int, text: str) -> Document:
    return Document(id=f"d{i}", source="s", subset="papers", title="", text=text)


class _Recorder:
    """A stage function with a `setup` hook; records what it saw."""

    def __init__(self):
        self.set_up = 0
        self.seen = []

    def setup(self):
        self.set_up += 1

    def __call__(self, doc):
        self.seen.append(doc.id)
        return doc.replace(text=doc.text.upper())


def test_stage_chain_applies_in_order_and_stops_at_the_first_drop():
    first = _Recorder()

    def too_short(doc):
        return make_drop(doc, "quality", "too_short", detail=str(len(doc.text))) if len(doc.text) < 5 else doc

    chain = StageChain([("clean", first), ("quality", too_short), ("language", lambda d: d.replace(lang="en"))])
    counts = []
    chain.count = counts.append
    chain.setup()
    assert first.set_up == 1
    kept = chain(_doc(1, "long enough"))
    assert isinstance(kept, Document) and kept.text == "LONG ENOUGH" and kept.lang == "en"
    dropped = chain(_doc(2, "tiny"))
    assert isinstance(dropped, Drop)
    assert (dropped.stage, dropped.reason, dropped.detail) == ("quality", "too_short", "4")
    assert first.seen == ["d1", "d2"]
    assert counts == ["clean:kept", "quality:kept", "language:kept", "clean:kept", "quality:too_short"]


def _metrics(result) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in result.metrics().query(MetricsFilter().with_namespace("gap"))["counters"]:
        out[c.key.metric.name] = out.get(c.key.metric.name, 0) + c.committed
    return out


def test_counted_routes_and_counts_each_decision_once():
    drop = Drop(doc_id="b", source="s", subset="papers", stage="st", reason="dup", chars=3, detail="a")
    items = [(KEPT, "a", None), (DROPPED, "b", drop), (PASSED, "c", None), (KEPT, "d", None)]
    p = beam.Pipeline(runner="FnApiRunner")
    out = counted(p | beam.Create(items), "st", "Count")
    assert_that(out[KEPT], equal_to(["a", "c", "d"]), label="kept")
    assert_that(out[DROPPED] | beam.MapTuple(lambda key, d: (key, d.reason, d.detail)), equal_to([("b", "dup", "a")]),
                label="dropped")
    result = p.run()
    result.wait_until_finish()
    assert _metrics(result) == {"st:kept": 2, "st:dup": 1}  # a passed key is routed but not counted
