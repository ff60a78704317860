"""What a stage emits besides kept documents: drops (with a reason) and quarantined records (with an error).

Every input record ends as exactly one of: a kept document, a Drop, or a Quarantined record, so the
manifest's accounting adds up.
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any

from schemas.stages import EXTRACT


@dataclasses.dataclass(frozen=True)
class Drop:
    """A document removed by a stage, for a reason (e.g. stage='quality', reason='too_short')."""
    doc_id: str
    source: str
    subset: str
    stage: str
    reason: str
    chars: int = 0
    detail: str = ""  # e.g. the id a duplicate lost to, the benchmark item it matched

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True, ensure_ascii=False)


@dataclasses.dataclass(frozen=True)
class Quarantined:
    """A raw record (or document) that could not be processed, kept with its error for inspection."""
    source: str
    url: str
    stage: str
    error: str
    sha256: str = ""
    content_type: str = ""

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> "Quarantined":
        return cls(**json.loads(line))


def make_drop(doc: Any, stage: str, reason: str, detail: str = "", chars: int | None = None) -> Drop:
    """The drop of a document (anything with id, source, subset and text, e.g. a schemas.document.Document):
    the one way a stage writes one. `chars` defaults to the length of the document's text."""
    return Drop(doc_id=doc.id, source=doc.source, subset=doc.subset, stage=stage, reason=reason,
                chars=len(doc.text) if chars is None else chars, detail=detail)


def extract_drop(raw: Any, doc_id: str, subset: str, reason: str, chars: int = 0, detail: str = "") -> Drop:
    """The drop of a document extraction could not make (no text, no abstract, a book record...), named by
    the id it would have had and its raw record's source (`raw`: a schemas.raw.RawRecord)."""
    return Drop(doc_id=doc_id, source=raw.source, subset=subset, stage=EXTRACT, reason=reason, chars=chars,
                detail=detail)


def drop_from_json(line: str) -> Drop:
    data: dict[str, Any] = json.loads(line)
    return Drop(**data)
