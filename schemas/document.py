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
        pa.field("meta", pa.string()),  # JSON object: Document.meta serialised by encode_meta
    ],
    metadata={b"gap.schema": b"document", b"gap.schema_version": b"1"},
)


def document_id(source: str, locator: str) -> str:
    """Stable id: a hash of the source and a canonical locator (URL, PMCID, PMID...)."""
    return hashlib.sha256(f"{source}\x00{locator}".encode("utf-8")).hexdigest()[:32]


def encode_meta(meta: dict[str, Any]) -> str:
    """The one stored form of `Document.meta`: sorted keys, non-ASCII kept (what every stored document
    has always held, so documents, their fingerprints and text hashes stay byte-identical)."""
    return json.dumps(meta, sort_keys=True, ensure_ascii=False)


def decode_meta(stored: str | None) -> dict[str, Any]:
    return json.loads(stored) if stored else {}


@dataclasses.dataclass(frozen=True)
class Document:
    """A document between stages. `meta` is a plain dict in memory, serialised only at the storage
    boundary (`to_row`/`from_row`). Treat it as read-only: `with_meta` returns a new document with a
    new dict; never change a document's meta in place (other holders of the document would see it)."""
    id: str
    source: str
    subset: str
    title: str
    text: str
    url: str = ""
    license: str = "unknown"
    lang: str = ""
    lang_score: float = 0.0
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    __hash__ = None  # meta is a dict: documents are compared, never hashed

    def __post_init__(self) -> None:
        if self.subset not in SUBSETS:
            raise ValueError(f"document subset {self.subset!r} is not one of {SUBSETS}")
        if not isinstance(self.meta, dict):
            raise TypeError(f"document {self.id}: meta must be a dict, not {type(self.meta).__name__} "
                            "(JSON is only its stored form: Document.from_row parses it)")

    def with_meta(self, **updates: Any) -> "Document":
        return dataclasses.replace(self, meta={**self.meta, **updates})

    def replace(self, **changes: Any) -> "Document":
        return dataclasses.replace(self, **changes)

    def meta_json(self) -> str:
        return encode_meta(self.meta)

    def to_row(self) -> dict[str, Any]:
        """The stored row (DOCUMENT_SCHEMA): meta as its JSON string."""
        return {name: self.meta_json() if name == "meta" else getattr(self, name) for name in _FIELD_NAMES}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "Document":
        return cls(**{name: decode_meta(row[name]) if name == "meta" else row[name] for name in _FIELD_NAMES})


_FIELD_NAMES = tuple(f.name for f in DOCUMENT_SCHEMA)
