"""Source specs (*.yaml) and the few hook modules for what a spec cannot say.

A hook module may define:
  discover(crawler) -> Iterable[scrapers.crawler.Item]          replaces generic discovery
  fetch_item(crawler, item, conditional) -> progress event str    replaces the generic fetch of one item
Both get the running Crawler: its `client` (the polite client), `spec`, `report`, `store()` and
`record_result()`.
"""
