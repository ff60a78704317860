"""Raw record -> documents, dispatched by content type. Modules import lazily so that a worker only
loads the parsers it needs (pdfminer is slow to import)."""
from __future__ import annotations

from typing import Any

from schemas.document import Document
from schemas.events import Drop
from schemas.raw import RawRecord
from transforms.extract.errors import ExtractError
from transforms.extract.options import ExtractOptions

__all__ = ["extract_record", "ExtractError", "ExtractOptions"]


def extract_record(raw: RawRecord, *, subset: str, options: ExtractOptions,
                   rules: dict[str, Any] | None = None) -> list[Document | Drop]:
    """Documents (or drops) of one raw record; raises ExtractError when the record is unusable."""
    if len(raw.content) > options.max_content_bytes:
        raise ExtractError(f"content of {len(raw.content)} bytes exceeds max_content_bytes={options.max_content_bytes}")
    rules = rules or {}
    kind = raw.content_type
    if kind == "jats":
        from transforms.extract.jats import extract_jats
        return extract_jats(raw, subset=subset, options=options)
    if kind == "pubmed-xml":
        from transforms.extract.medline import extract_medline
        return extract_medline(raw, subset=subset, options=options)
    if kind == "html":
        from transforms.extract.html import extract_html
        return extract_html(raw, subset=subset, options=options, rules=rules)
    if kind == "pdf":
        from transforms.extract.pdf import extract_pdf
        return extract_pdf(raw, subset=subset, options=options, rules=rules)
    if kind in ("text", "json"):
        from transforms.extract.plain import extract_plain
        return extract_plain(raw, subset=subset, options=options)
    raise ExtractError(f"unsupported content_type {kind!r}")
