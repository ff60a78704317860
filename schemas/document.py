"""The document record: what flows between pipeline stages after extraction."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import pyarrow as pa

SUBSETS = ("guidelines", "abstracts", "papers", "replay")

DOCUMENT_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("subset", pa.string(), nullable=False),
        pa.field("title", pa.string()),
        pa.field("text", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("license", pa.string()),
        pa.field("lang", pa.string()),
        pa.field("lang_score", pa.float64()),
        pa.field("meta", pa.string()),  # JSON object
    ],
    metadata={b"gap.schema": b"document", b"gap.schema_version": b"1"},
)


def document_id(source: str, locator: str) -> str:
    """Stable id: a hash of the source and a canonical locator (URL, PMCID, PMID...)."""
    return hashlib.sha256(f"{source}\x00{locator}".encode("utf-8")).hexdigest()[:32]


@dataclasses.dataclass(frozen=True)
class Document:
    id: str
    source: str
    subset: str
    title: str
    text: str
    url: str = ""
    license: str = "unknown"
    lang: str = ""
    lang_score: float = 0.0
    meta: str = "{}"

    def __post_init__(self) -> None:
        if self.subset not in SUBSETS:
            raise ValueError(f"document subset {self.subset!r} is not one of {SUBSETS}")

    def meta_dict(self) -> dict[str, Any]:
        return json.loads(self.meta) if self.meta else {}

    def with_meta(self, **updates: Any) -> "Document":
        meta = self.meta_dict()
        meta.update(updates)
        return dataclasses.replace(self, meta=json.dumps(meta, sort_keys=True, ensure_ascii=False))

    def replace(self, **changes: Any) -> "Document":
        return dataclasses.replace(self, **changes)

    def to_row(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Document":
        return cls(**{f.name: row[f.name] for f in DOCUMENT_SCHEMA})
