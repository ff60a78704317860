"""Helpers shared by the JSON-API hooks."""
from __future__ import annotations

import html
import json
from typing import Any, Callable


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


def fetch_json_page(crawler, item, conditional, to_page: Callable[[Any, Any], tuple[str, str, dict[str, Any]]],
                    reason: str) -> str:
    """Fetch one item's JSON and store it as an HTML page: `to_page(item, data) -> (title, body_html, extra_meta)`.
    A body that is not JSON, or that `to_page` rejects (ValueError, KeyError, TypeError, AttributeError),
    is a failure named `reason`; returns the progress event."""
    result = crawler.client.fetch(item.url, accept=("json",), **conditional)
    if not result.ok:
        return crawler.record_result(item, result)
    try:
        title, body, extra_meta = to_page(item, json.loads(result.content.decode("utf-8")))
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        crawler.report.fail(item.url, reason, str(exc)[:200])
        return "failed"
    return crawler.record_result(item, result, content_type="html", content=html_document(title, body),
                                 extra_meta=extra_meta)
