"""Helpers shared by the JSON-API hooks."""
from __future__ import annotations

import html
import json
from typing import Any


def get_json(crawler, url: str) -> Any | None:
    """Fetch a JSON listing page through the crawler (counted as a listing page); None on failure."""
    result = crawler.fetch_listing(url, accept=("json",))
    if result is None:
        return None
    try:
        return json.loads(result.content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        crawler.report.fail(url, "bad_json", str(exc)[:200])
        return None


def dig(data: Any, dotted: str) -> Any:
    for key in [k for k in dotted.split(".") if k]:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def html_document(title: str, body_html: str) -> bytes:
    """A minimal HTML page around an API's HTML fragment, so the HTML extractor reads it like a page."""
    t = html.escape(title or "")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\n"
            f"<body><h1>{t}</h1>\n{body_html}\n</body></html>\n").encode("utf-8")
