"""`gap extract FILE ...`: print the documents of raw files as JSON lines (id, title, text, lang, meta).

The kind of each file (JATS, MEDLINE/PubMed XML, HTML, PDF, JSON lines, text) is detected from its
content, gzip included, and the file goes through the same `transforms.extract.extract_record` the
pipeline uses, so what you see is what a build would get. Drops and errors go to stderr.
"""
from __future__ import annotations

import json
import re
import sys
import zlib
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

    flags = {"citations": args.citations, "tables": args.tables}
    return load_config(args.config, {"extract": {k: v for k, v in flags.items() if v}}).extract.options


def _sniff(content: bytes) -> str:
    """Kind of a file from its first bytes (of the gunzipped stream when gzip: a PubMed baseline file need
    not be inflated whole just to be recognised)."""
    from transforms.extract import ExtractError
    from transforms.extract.xmlsafe import is_gzip

    if is_gzip(content):
        try:
            content = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(content, 1 << 16)
        except zlib.error as exc:
            raise ExtractError(f"corrupt gzip data: {exc}") from exc
    return sniff_kind(content)


def _extract_file(path: Path, args, options, out) -> str:
    """Print one file's documents; returns the summary line. Raises on a file that cannot be extracted."""
    from schemas.events import Drop
    from schemas.raw import RawRecord
    from transforms.extract import extract_record

    from transforms.extract.xmlsafe import gunzip_bounded, is_gzip

    content = path.read_bytes()
    kind = args.kind or _sniff(content)
    if is_gzip(content) and kind not in ("jats", "pubmed-xml"):  # those two stream gzip themselves
        content = gunzip_bounded(content)
    subset = args.subset or _DEFAULT_SUBSET[kind]
    source = args.source or {"jats": "pmc", "pubmed-xml": "pubmed"}.get(kind, "local")
    raw = RawRecord.make(source=source, url=path.resolve().as_uri(),
                         fetched_at=datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(),
                         content_type=kind, content=content)
    try:
        results = extract_record(raw, subset=subset, options=options, rules={})
    except Exception as exc:
        raise _KindError(kind, exc) from exc
    lines, kept, dropped = [], 0, 0
    for item in results:
        if isinstance(item, Drop):
            dropped += 1
            if args.drops:
                lines.append(json.dumps({"drop": json.loads(item.to_json())}, ensure_ascii=False) + "\n")
            continue
        kept += 1
        lines.append(json.dumps({"id": item.id, "title": item.title, "text": item.text, "lang": item.lang,
                                 # meta as stored: sorted keys at every level
                                 "meta": json.loads(item.meta_json())}, ensure_ascii=False) + "\n")
    out.writelines(lines)  # all of a file's documents or none of them
    return f"{kind}: {kept} documents, {dropped} dropped"


class _KindError(Exception):
    def __init__(self, kind: str, exc: BaseException):
        super().__init__(f"{kind}: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    """One line: the extractors' own errors speak for themselves; anything else is named by its type."""
    from transforms.extract import ExtractError

    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, (ExtractError, _KindError)):
        return text
    if isinstance(exc, OSError):
        return exc.strerror or text
    return f"{type(exc).__name__}: {text}"


def run(args) -> int:
    from gap_pipeline.config import ConfigError

    try:
        options = _options(args)
    except ConfigError as exc:
        print(f"gap extract: error: {exc}", file=sys.stderr)
        return 2
    failures = 0
    for name in args.files:
        # One bad file is reported and skipped; the others still print. Any exception counts as a failure
        # of that file (a corrupt input must never end the batch with a traceback).
        try:
            summary = _extract_file(Path(name), args, options, sys.stdout)
        except Exception as exc:
            print(f"gap extract: {name}: {_reason(exc)}", file=sys.stderr)
            failures += 1
            continue
        print(f"gap extract: {name}: {summary}", file=sys.stderr)
    if failures:
        print(f"gap extract: {failures} of {len(args.files)} files failed", file=sys.stderr)
    return 1 if failures else 0
