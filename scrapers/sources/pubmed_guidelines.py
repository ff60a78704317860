"""PubMed records of publication type Practice Guideline / Guideline, through E-utilities.

esearch (JSON, retstart/retmax paging) gives the PMIDs; they are grouped into efetch batches by PMID
range (pmid // 100000, then at most batch_size ids), so a batch's URL stays the same from one run to the
next and a resumed or repeated crawl refetches nothing it holds. Each batch is one raw record of
MEDLINE XML (content_type pubmed-xml); the MEDLINE extractor splits it into abstracts.
"""
from __future__ import annotations

from itertools import groupby
from urllib.parse import urlencode

from scrapers.crawler import Item
from scrapers.sources._api import get_json

BUCKET = 100000


def discover(crawler):
    api = crawler.spec["discovery"]["api"]
    base = api["endpoint"].rstrip("/") + "/"
    page_size = api.get("page_size", 10000)
    tool = api.get("tool", "gap_pipeline")
    max_pages = crawler.spec["discovery"].get("max_pages", 100)
    pmids: set[int] = set()
    for page in range(max_pages):
        query = urlencode({"db": "pubmed", "term": api["term"], "retmode": "json", "retmax": page_size,
                           "retstart": page * page_size, "tool": tool})
        url = f"{base}esearch.fcgi?{query}"
        data = get_json(crawler, url)
        if data is None:
            break
        result = data.get("esearchresult") or {}
        if "ERROR" in result or "error" in data:
            crawler.report.fail(url, "api_error", str(result.get("ERROR") or data.get("error"))[:200])
            break
        ids = [int(i) for i in result.get("idlist", []) if str(i).isdigit()]
        pmids.update(ids)
        if not ids or (page + 1) * page_size >= int(result.get("count", 0)):
            break
    batch = api.get("batch_size", 200)
    for _, group in groupby(sorted(pmids), key=lambda p: p // BUCKET):
        group = list(group)
        for i in range(0, len(group), batch):
            chunk = group[i:i + batch]
            query = urlencode({"db": "pubmed", "id": ",".join(map(str, chunk)), "retmode": "xml", "tool": tool})
            yield Item(f"{base}efetch.fcgi?{query}", ("xml",), {"pmids": [str(p) for p in chunk]})
