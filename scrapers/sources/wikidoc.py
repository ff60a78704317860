"""WikiDoc through the MediaWiki API (no HTML scraping of skins and navigation).

Discovery: action=query&list=allpages (non-redirects of one namespace), following `apcontinue`.
Each page: action=parse&pageid=N&prop=text|revid&formatversion=2 -> {"parse": {"title", "pageid",
"revid", "text"}}; the rendered article HTML is stored as an HTML page (meta.derived_from says so).
"""
from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from scrapers.crawler import Item
from scrapers.sources._api import fetch_json_page, get_json


def discover(crawler):
    api = crawler.spec["discovery"]["api"]
    endpoint = api["endpoint"]
    max_pages = crawler.spec["discovery"].get("max_pages", 1000)
    params = {"action": "query", "list": "allpages", "apnamespace": api.get("namespace", 0),
              "apfilterredir": "nonredirects", "aplimit": api.get("page_size", 500), "format": "json"}
    for _ in range(max_pages):
        url = f"{endpoint}?{urlencode(params)}"
        data = get_json(crawler, url)
        if data is None:
            return
        if "error" in data:
            crawler.report.fail(url, "api_error", json.dumps(data["error"])[:200])
            return
        for page in (data.get("query") or {}).get("allpages") or []:
            query = urlencode({"action": "parse", "pageid": page["pageid"], "prop": "text|revid",
                               "formatversion": 2, "format": "json"})
            yield Item(f"{endpoint}?{query}", ("json",), {"title": page.get("title", ""),
                                                          "pageid": page["pageid"], "found_on": url})
        cont = (data.get("continue") or {}).get("apcontinue")
        if not cont:
            return
        params = {**params, "apcontinue": cont, "continue": (data.get("continue") or {}).get("continue", "-||")}


def _page(endpoint: str, data):
    if "error" in data:
        raise ValueError(f"API error {data['error'].get('code')}: {data['error'].get('info')}")
    parse = data["parse"]
    title, text = parse["title"], parse["text"]
    if isinstance(text, dict):  # formatversion=1 shape
        text = text.get("*", "")
    page_url = endpoint.rsplit("/", 1)[0] + "/index.php/" + quote(title.replace(" ", "_"))
    return title, text, {"title": title, "revid": parse.get("revid"), "page_url": page_url,
                         "derived_from": "mediawiki-parse"}


def fetch_item(crawler, item, conditional):
    endpoint = crawler.spec["discovery"]["api"]["endpoint"]
    return fetch_json_page(crawler, item, conditional, lambda _item, data: _page(endpoint, data), "api_error")
