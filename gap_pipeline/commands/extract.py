"""`gap extract FILE ...`: print the documents of raw files as JSON lines (id, title, text, lang, meta).

The kind of each file (JATS, MEDLINE/PubMed XML, HTML, PDF, JSON lines, text) is detected from its
content, gzip included, and the file goes through the same `transforms.extract.extract_record` the
pipeline uses, so what you see is what a build would get. Drops and errors go to stderr.
"""
from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

_ROOT_TAG = re.compile(rb"<(?!\?|!)([A-Za-z_][\w.:-]*)")
_DEFAULT_SUBSET = {"jats": "papers", "pubmed-xml": "abstracts", "html": "guidelines", "pdf": "guidelines",
                   "json": "replay", "text": "replay"}


def register(sub) -> None:
    p = sub.add_parser(
        "extract", help="Print the documents of raw files as JSON lines (id, title, text, lang, meta)",
        description="Print the documents of raw files (JATS, MEDLINE/PubMed XML, HTML, PDF; gzip accepted) "
                    "as JSON lines with id, title, text, lang and meta. The kind is detected from the content.")
    p.add_argument("files", nargs="+", metavar="FILE", help="raw files to convert")
    p.add_argument("--kind", choices=sorted(_DEFAULT_SUBSET), help="force the content type instead of detecting it")
    p.add_argument("--subset", choices=("guidelines", "abstracts", "papers", "replay"),
                   help="subset to label documents with (default: by kind)")
    p.add_argument("--source", default="", help="source name used in document ids (default: by kind)")
    p.add_argument("--config", help="corpus config YAML whose `extract` section applies (default: built-in)")
    p.add_argument("--citations", choices=("tag", "remove"), help="override extract.citations")
    p.add_argument("--tables", choices=("linearize", "caption", "drop"), help="override extract.tables")
    p.add_argument("--drops", action="store_true", help="also print dropped records (as {'drop': ...}) on stdout")
    p.set_defaults(func=run)


def sniff_kind(content: bytes) -> str:
    """Content type of raw bytes: jats | pubmed-xml | html | pdf | json | text."""
    from transforms.extract.xmlsafe import gunzip_head, is_gzip

    if is_gzip(content):
        content = gunzip_head(content, 8192)  # sniffing needs the head only: never the whole expansion
    head = content[:8192].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"%PDF"):
        return "pdf"
    lower = head.lower()
    if lower.startswith(b"<!doctype html") or b"<html" in lower[:2048]:
        return "html"
    if head.startswith(b"<"):
        match = _ROOT_TAG.search(re.sub(rb"<!--.*?-->", b"", head, flags=re.DOTALL))
        root = match.group(1).split(b":")[-1] if match else b""
        if root in (b"PubmedArticleSet", b"MedlineCitationSet", b"PubmedArticle", b"MedlineCitation"):
            return "pubmed-xml"
        if root in (b"article", b"articles", b"pmc-articleset"):
            return "jats"
        if root in (b"head", b"body", b"div", b"p", b"meta"):
            return "html"
        return "jats"  # other XML: let the JATS extractor say what is wrong with it
    if head.startswith(b"{"):
        return "json"
    return "text"


def _options(args):
    from gap_pipeline.config import load_config
    from transforms.extract import ExtractOptions

    section = dict(load_config(args.config)["extract"])
    if args.citations:
        section["citations"] = args.citations
    if args.tables:
        section["tables"] = args.tables
    return ExtractOptions.from_config(section)


def run(args) -> int:
    from schemas.events import Drop
    from schemas.raw import RawRecord
    from transforms.extract import ExtractError, extract_record

    options = _options(args)
    failures = 0
    out = sys.stdout
    for name in args.files:
        path = Path(name)
        try:
            content = path.read_bytes()
            kind = args.kind or sniff_kind(content)
        except (OSError, ExtractError) as exc:
            print(f"gap extract: {name}: {exc}", file=sys.stderr)
            failures += 1
            continue
        subset = args.subset or _DEFAULT_SUBSET[kind]
        source = args.source or {"jats": "pmc", "pubmed-xml": "pubmed"}.get(kind, "local")
        raw = RawRecord.make(source=source, url=path.resolve().as_uri(),
                             fetched_at=datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(),
                             content_type=kind, content=content)
        try:
            results = extract_record(raw, subset=subset, options=options, rules={})
        except (ExtractError, ImportError) as exc:
            print(f"gap extract: {name}: {kind}: {exc}", file=sys.stderr)
            failures += 1
            continue
        kept = dropped = 0
        for item in results:
            if isinstance(item, Drop):
                dropped += 1
                if args.drops:
                    out.write(json.dumps({"drop": json.loads(item.to_json())}, ensure_ascii=False) + "\n")
                continue
            kept += 1
            out.write(json.dumps({"id": item.id, "title": item.title, "text": item.text, "lang": item.lang,
                                  "meta": item.meta_dict()}, ensure_ascii=False) + "\n")
        print(f"gap extract: {name}: {kind}: {kept} documents, {dropped} dropped", file=sys.stderr)
    return 1 if failures else 0
