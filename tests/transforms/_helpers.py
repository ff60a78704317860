"""Small document builders shared by the transforms tests."""
from __future__ import annotations

from schemas.document import Document



def _doc(text: str, source: str = "cdc", n: int = 0) -> Document:
    return Document(id=f"{source}-{n:03d}", source=source, subset="guidelines", title="t", text=text)
