"""MAGICapp: a single-page app; we read its public JSON API instead of driving a browser.

Listing: GET {endpoint}?page=N&pageSize=S -> {"<items_path>": [{"guidelineId", "name", ...}], "totalPages": M}
Guideline: GET link_template.format(**item) -> {"name", "sections": [{"heading", "text", "recommendations":
[{"title", "text", "strength"}]}]} whose text fields are HTML fragments. The stored record is an HTML page
built from those fields (content_type html; meta.derived_from says so, meta.api_url keeps the source).
"""
from __future__ import annotations

import html

from scrapers.crawler import Item, with_query_param
from scrapers.sources._api import dig, fetch_json_page, get_json


def discover(crawler):
    api = crawler.spec["discovery"]["api"]
    max_pages = crawler.spec["discovery"].get("max_pages", 200)
    page = 1
    while page <= max_pages:
        url = with_query_param(with_query_param(api["endpoint"], api.get("page_param", "page"), page),
                               "pageSize", api.get("page_size", 50))
        data = get_json(crawler, url)
        if data is None:
            return
        items = dig(data, api.get("items_path", "")) or []
        if not isinstance(items, list) or not items:
            return
        for entry in items:
            if not isinstance(entry, dict) or "guidelineId" not in entry:
                crawler.report.fail(url, "bad_item", f"listing entry without guidelineId: {str(entry)[:100]}")
                continue
            link = api["link_template"].format(**{k: v for k, v in entry.items() if isinstance(v, (str, int))})
            yield Item(link, ("json",), {"title": entry.get("name", ""), "guideline_id": str(entry["guidelineId"]),
                                         "found_on": url})
        total = data.get("totalPages") if isinstance(data, dict) else None
        if isinstance(total, int) and page >= total:
            return
        page += 1


def guideline_html(data: dict) -> tuple[str, str]:
    title = str(data.get("name") or "")
    parts = []
    for section in data.get("sections") or []:
        parts.append(f"<h2>{html.escape(str(section.get('heading') or ''))}</h2>")
        parts.append(f"<div class=\"section\">{section.get('text') or ''}</div>")
        for rec in section.get("recommendations") or []:
            strength = html.escape(str(rec.get("strength") or ""))
            parts.append(f"<div class=\"recommendation\" data-strength=\"{strength}\">"
                         f"<h3>{html.escape(str(rec.get('title') or ''))}</h3>{rec.get('text') or ''}</div>")
    return title, "\n".join(parts)


def _page(item, data):
    if not isinstance(data, dict) or not data.get("sections"):
        raise ValueError("no sections in guideline JSON")
    title, body = guideline_html(data)
    return title, body, {"title": title, "api_url": item.url, "derived_from": "magicapp-json"}


def fetch_item(crawler, item, conditional):
    return fetch_json_page(crawler, item, conditional, _page, "bad_json")
