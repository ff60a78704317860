"""Small document and raw-row builders shared by the tests."""
from __future__ import annotations

from schemas.document import Document
from schemas.raw import RawRecord


def _doc(text: str, source: str = "cdc", n: int = 0) -> Document:
    return Document(id=f"{source}-{n:03d}", source=source, subset="guidelines", title="t", text=text)


def _record(url: str, content: bytes = b"hello world", **kw) -> dict:
    return RawRecord.make(source=kw.pop("source", "cdc"), url=url, fetched_at="2026-01-01T00:00:00Z",
                          content_type=kw.pop("content_type", "text"), content=content, **kw).to_row()
