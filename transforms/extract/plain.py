"""Plain text and JSON raw records (replay text, pre-extracted articles)."""
from __future__ import annotations

import json

from schemas.document import Document, document_id
from schemas.events import Drop
from schemas.raw import RawRecord
from schemas.jsonl import JsonlError, read_jsonl
from transforms.extract.errors import ExtractError
from transforms.extract.options import ExtractOptions


def decode_text(content: bytes) -> str:
    """UTF-8 (BOM tolerated); anything else is refused rather than guessed."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExtractError(f"text is not valid UTF-8 at byte {exc.start}") from exc


def _doc(raw: RawRecord, subset: str, locator: str, title: str, text: str, meta: dict) -> Document:
    base = raw.meta_dict()
    base.update(meta)
    return Document(id=document_id(raw.source, locator), source=raw.source, subset=subset, title=title,
                    text=text, url=raw.url, license=base.get("license", raw.license),
                    meta=base)


def _jsonl_or_one_object(text: str) -> list:
    """JSON Lines, or one object laid out with a `{` at the start of a line (`json.dumps(obj, indent=0)`
    puts nested objects there), which is valid JSON but no JSON line."""
    try:
        return read_jsonl(text)
    except JsonlError:
        if text.startswith("{"):
            try:
                return [json.loads(text)]
            except json.JSONDecodeError:
                pass
        raise


def extract_plain(raw: RawRecord, *, subset: str, options: ExtractOptions) -> list[Document | Drop]:
    """`text`: the whole content is one document. `json`: one object or JSON lines with a `text` field."""
    text = decode_text(raw.content)
    meta = raw.meta_dict()
    if raw.content_type == "text":
        if not text.strip():
            raise ExtractError("empty text record")
        return [_doc(raw, subset, raw.url, meta.get("title", ""), text, {})]
    docs: list[Document | Drop] = []
    stripped = text.strip()
    if not stripped:
        raise ExtractError("empty JSON record")
    try:
        if stripped.startswith("{") and "\n{" not in stripped:
            items = [json.loads(stripped)]
        else:  # JSON Lines: split on "\n" only (U+2028 etc. are legal inside JSON strings)
            items = _jsonl_or_one_object(stripped)
    except json.JSONDecodeError as exc:
        raise ExtractError(f"invalid JSON: {exc}") from exc
    except JsonlError as exc:
        raise ExtractError(str(exc)) from exc
    for n, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("text"), str):
            raise ExtractError(f"JSON item {n} has no string 'text' field")
        item_id = item.get("id")  # 0 is an id; only a missing, null or empty one falls back to the position
        locator = f"{raw.url}#{n}" if item_id is None or item_id == "" else str(item_id)
        extra = {k: v for k, v in item.items() if k not in ("text", "title", "id")}
        docs.append(_doc(raw, subset, locator, str(item.get("title") or ""), item["text"], extra))
    return docs
