"""`gap sources`: list, check and add source specs.

  gap sources list [--raw DIR]            publisher, licence, subset, priority, last scrape counts
  gap sources check NAME                  validate the spec and dry-run discovery (no article fetched)
  gap sources add NAME --url URL ...      write ./sources/NAME.yaml (or --specs-dir) and a fixture-test skeleton

A corpus's own specs live in its folder (--specs-dir, or `specs_dir` in the corpus config for `gap scrape` and
`gap build`), beside the shipped ones; a spec there with a shipped name replaces the shipped spec. Nothing is
ever written into the installed package.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_SPECS_DIR = "sources"   # relative to the working directory, never the installed package

from gap_pipeline.commands.args import non_negative_int, positive_int  # noqa: E402

REPO = Path(__file__).resolve().parents[2]


def register(sub) -> None:
    p = sub.add_parser("sources", help="List, check and add source specs",
                       description="List, check and add the declarative source specs the crawler runs.")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    ls = verbs.add_parser("list", help="every source with publisher, licence, subset and last scrape counts")
    ls.add_argument("--raw", default="raw", help="raw store whose last scrape counts to show (default: raw)")
    ls.add_argument("--specs-dir", help="the corpus's own specs folder, listed beside the shipped specs")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=run_list)

    ck = verbs.add_parser("check", help="validate a spec and dry-run its discovery (network!)")
    ck.add_argument("name", help="source id, or a path to a spec YAML")
    ck.add_argument("--specs-dir", help="the corpus's own specs folder (looked in first, then the shipped specs)")
    ck.add_argument("--limit", type=positive_int, default=20, help="stop discovery after this many articles")
    ck.add_argument("--offline", action="store_true", help="validate only; no discovery")
    ck.add_argument("--allow-loopback", action="store_true", help=argparse.SUPPRESS)  # tests only
    ck.set_defaults(func=run_check)

    add = verbs.add_parser("add", help="write a new spec and a fixture-test skeleton")
    add.add_argument("name", help="new source id (lowercase letters, digits, _)")
    add.add_argument("--url", required=True, help="the listing page where the publisher lists its guidelines")
    add.add_argument("--publisher", help="publisher name (default: the host name)")
    add.add_argument("--country", default="INT")
    add.add_argument("--audience", default="clinicians",
                     choices=["clinicians", "patients", "public", "mixed", "researchers"])
    add.add_argument("--license", default="all-rights-reserved")
    add.add_argument("--redistributable", action="store_true", help="the licence allows sharing the text")
    add.add_argument("--subset", default="guidelines", choices=["guidelines", "abstracts", "papers", "replay"])
    add.add_argument("--priority", type=non_negative_int, default=30)
    add.add_argument("--format", default="html", choices=["html", "pdf", "html+pdf"])
    add.add_argument("--article-selector", action="append", default=[], help="CSS selector of article links")
    add.add_argument("--article-pattern", action="append", default=[], help="regex article URLs match")
    add.add_argument("--next-selector", help="CSS selector of the next-page link (pagination)")
    add.add_argument("--page-param", help="query parameter of the page number (pagination)")
    add.add_argument("--specs-dir", default=DEFAULT_SPECS_DIR,
                     help=f"the corpus's specs folder to write the spec into (default: ./{DEFAULT_SPECS_DIR}); "
                          "give the same folder to gap scrape/build with --specs-dir or the config's specs_dir")
    add.add_argument("--tests-dir", help="where to write the fixture test (default: the specs folder)")
    add.add_argument("--force", action="store_true", help="overwrite existing files")
    add.set_defaults(func=run_add)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _specs_dir(args):
    return Path(args.specs_dir) if getattr(args, "specs_dir", None) else None


def run_list(args) -> int:
    from scrapers.raw_store import RawStoreError, read_last_scrape
    from scrapers.specs import SpecError, load_corpus_specs, spec_origin

    try:
        specs = load_corpus_specs(_specs_dir(args))
    except SpecError as exc:
        print(f"gap sources: {exc}", file=sys.stderr)
        return 2
    rows = []
    for name, spec in specs.items():
        try:
            last = read_last_scrape(args.raw, name)
        except (OSError, ValueError, RawStoreError):
            last = None
        rows.append({"id": name, "publisher": spec["publisher"], "country": spec["country"],
                     "license": spec["license"], "redistributable": spec["redistributable"],
                     "subset": spec["subset"], "priority": spec["priority"], "method": spec["discovery"]["method"],
                     "origin": spec_origin(name, _specs_dir(args)),
                     "last_scrape": last and {k: last.get(k) for k in ("finished_at", "fetched", "unchanged",
                                                                       "already_stored", "failed", "disallowed_by_robots")}})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'id':<18} {'subset':<10} {'pri':>3} {'licence':<22} {'redist':<6} {'method':<9} {'publisher':<44} last scrape")
    for r in rows:
        last = r["last_scrape"]
        when = (f"{last['finished_at']}: {last['fetched']} new, {last['unchanged']} same, {last['already_stored']} kept, "
                f"{last['failed']} failed, {last['disallowed_by_robots']} robots") if last else "-"
        print(f"{r['id'] + ('*' if r['origin'] == 'user' else ''):<18} {r['subset']:<10} {r['priority']:>3} {r['license']:<22} {'yes' if r['redistributable'] else 'no':<6} "
              f"{r['method']:<9} {r['publisher'][:44]:<44} {when}")
    if any(r["origin"] == "user" for r in rows):
        print(f"* from {args.specs_dir} (a corpus's own spec; replaces a shipped spec of the same name)")
    return 0


def run_check(args) -> int:
    from scrapers.client import ClientSettings
    from scrapers.crawler import Crawler, CrawlSettings
    from scrapers.specs import SpecError, load_corpus_spec, load_spec_file
    from transforms.extract.html import content_selector_problem

    try:
        if args.name.endswith((".yaml", ".yml")):
            spec = load_spec_file(Path(args.name))
        else:
            spec = load_corpus_spec(args.name, _specs_dir(args))
    except SpecError as exc:
        print(f"INVALID: {exc}", file=sys.stderr)
        return 1
    problem = content_selector_problem(spec.get("content") or {})
    if problem:
        print(f"INVALID: source spec {spec['id']}: {problem}", file=sys.stderr)
        return 1
    print(f"{spec['id']}: spec valid ({spec['publisher']}, {spec['license']}, subset {spec['subset']})")
    if args.offline or spec["discovery"]["method"] == "bulk":
        if spec["discovery"]["method"] == "bulk":
            print("bulk source: no discovery to dry-run (see scrapers/bulk)")
        return 0
    settings = CrawlSettings(client=ClientSettings(allow_loopback=args.allow_loopback))
    crawler = Crawler(spec, "memory://gap-sources-check", settings)
    items, report = crawler.dry_run(limit=args.limit)
    print(f"discovery: {len(items)} article(s) from {report.listing_pages} listing page(s)"
          f"{' (stopped at --limit)' if len(items) >= args.limit else ''}")
    for item in items:
        print(f"  {item.url}  {item.meta.get('title', '')[:60]}")
    for url, reason, detail in report.failures:
        print(f"  problem: {reason}: {url} ({detail})")
    if report.error:
        print(f"discovery failed: {report.error}", file=sys.stderr)
        return 1
    if not items:
        print("discovery found no article: check start_urls, article_selectors and article_patterns", file=sys.stderr)
        return 1
    return 0


SPEC_TEMPLATE = """\
# Source spec written by `gap sources add`; validated against schemas/source_spec.schema.json.
# Fill in the selectors after looking at the publisher's listing and article pages, then run
# `gap sources check {name}` and the fixture test {test_rel}.
"""

TEST_TEMPLATE = '''\
"""Fixture test for the `{name}` source (skeleton written by `gap sources add`).

Replace LISTING_HTML and ARTICLE_HTML with trimmed copies of the structure of the real pages
(listing, pagination, article page, PDF link) -- structure only, not the publisher's text -- and
list every article the crawl must store in EXPECTED.
"""
from urllib.parse import urlsplit

from scrapers.crawler import Crawler
from schemas.raw_store import read_raw_store
from scrapers.specs import load_spec_file
from tests.scrapers.conftest import fast_crawl
from testkit.server import FixtureServer, Page
from tests.scrapers.sites import localize

SPEC = {spec_path!r}
START_PATH = {start_path!r}
ARTICLE_PATH = {article_path!r}
LISTING_HTML = "<html><body><h1>Guidelines</h1><ul><li><a href='" + ARTICLE_PATH + "'>Example</a></li></ul></body></html>"
ARTICLE_HTML = "<html><body><h1>Example guideline</h1><div class='content'><p>Recommendation text.</p></div></body></html>"
EXPECTED = {{ARTICLE_PATH}}


def test_{name}_crawl_stores_every_article(tmp_path):
    spec = load_spec_file(SPEC)
    routes = {{START_PATH: Page(LISTING_HTML), ARTICLE_PATH: Page(ARTICLE_HTML)}}
    with FixtureServer(routes) as server:
        report = Crawler(localize(spec, server.base), str(tmp_path), fast_crawl()).run()
        assert report.error is None and report.failed == 0, report.failures
        stored = {{urlsplit(r.url).path for r in read_raw_store(tmp_path)}}
        assert stored == EXPECTED
'''


def run_add(args) -> int:
    import yaml

    from scrapers.specs import SOURCES_DIR, SpecError, validate_spec

    name = args.name
    if not re.match(r"^[a-z][a-z0-9_]*$", name):
        print(f"gap sources add: name {name!r} must be lowercase letters, digits and _", file=sys.stderr)
        return 2
    parts = urlsplit(args.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        print(f"gap sources add: --url must be an http(s) URL, got {args.url!r}", file=sys.stderr)
        return 2
    host = parts.hostname.lower()
    domain = host[4:] if host.startswith("www.") else host
    start_path = parts.path or "/"
    listing_dir = start_path.rstrip("/") or ""
    patterns = args.article_pattern or [re.escape(listing_dir) + "/[^/?#]+/?$"]
    pagination = {"type": "none"}
    if args.next_selector:
        pagination = {"type": "next_link", "selector": args.next_selector, "max_pages": 100}
    elif args.page_param:
        pagination = {"type": "page_param", "param": args.page_param, "start": 1, "max_pages": 100}
    content = {"format": args.format, "title_selector": "h1", "body_selector": "main"}
    if args.format == "html+pdf":
        content.update(store_html=True, pdf_patterns=[r"\.pdf$"])
    spec = {
        "id": name, "publisher": args.publisher or host, "homepage": f"{parts.scheme}://{parts.netloc}/",
        "country": args.country, "audience": args.audience, "license": args.license,
        "redistributable": bool(args.redistributable), "subset": args.subset, "priority": args.priority,
        "allowed_domains": [domain],
        "discovery": {"method": "links", "start_urls": [args.url], "article_selectors": args.article_selector,
                      "article_patterns": patterns, "pagination": pagination},
        "content": content,
        "cleaning": {"starters": [], "stoppers": [], "removers": [], "min_length": 300},
    }
    if not spec["discovery"]["article_selectors"]:
        del spec["discovery"]["article_selectors"]
    try:
        validate_spec(spec, name)
    except SpecError as exc:
        print(f"gap sources add: {exc}", file=sys.stderr)
        return 2
    specs_dir = Path(args.specs_dir or DEFAULT_SPECS_DIR)
    tests_dir = Path(args.tests_dir) if args.tests_dir else specs_dir
    if specs_dir.resolve() == SOURCES_DIR.resolve() or SOURCES_DIR.resolve() in specs_dir.resolve().parents:
        print(f"gap sources add: {specs_dir} is the installed package's own specs folder; write a corpus's specs "
              f"into its own folder (default ./{DEFAULT_SPECS_DIR})", file=sys.stderr)
        return 2
    spec_path = specs_dir / f"{name}.yaml"
    test_path = tests_dir / f"test_source_{name}.py"
    for path in (spec_path, test_path):
        if path.exists() and not args.force:
            print(f"gap sources add: {path} exists (use --force to overwrite)", file=sys.stderr)
            return 2
    for folder in (specs_dir, tests_dir):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except FileExistsError as exc:
            print(f"gap sources add: cannot create {folder}: {exc.filename} is a file, not a folder", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"gap sources add: cannot create {folder}: {exc.strerror or exc}", file=sys.stderr)
            return 2
    header = SPEC_TEMPLATE.format(name=name, test_rel=test_path.name)
    spec_path.write_text(header + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True), encoding="utf-8")
    article_path = (listing_dir or "") + "/example-guideline"
    query = f"?{parts.query}" if parts.query else ""
    test_path.write_text(TEST_TEMPLATE.format(name=name, spec_path=str(spec_path.resolve()),
                                              start_path=start_path + query, article_path=article_path),
                         encoding="utf-8")
    if (SOURCES_DIR / f"{name}.yaml").is_file():
        print(f"note: {name} is also a shipped source; with --specs-dir {specs_dir} this spec replaces it")
    print(f"wrote {spec_path}\nwrote {test_path}\nnext: edit the selectors, then `gap sources check {name} "
          f"--specs-dir {specs_dir}`, `pytest {test_path}`, and scrape/build with --specs-dir {specs_dir} "
          f"(or specs_dir: in the corpus config)")
    return 0
