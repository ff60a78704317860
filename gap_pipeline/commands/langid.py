"""`gap langid`: the language stage's judgement of text: which languages hold its letters (windows
over the text, scripts by Unicode ranges, seeded langdetect inside Latin/Cyrillic/Arabic/Devanagari/CJK
text) and whether the stage would keep it.

  echo "some text" | gap langid            -> {"lang": "en", "prob": 1.0, "shares": {"en": 1.0}, "keep": true, "reason": null}
  gap langid --jsonl < docs.jsonl          -> one {"id", "lang", "prob", "shares", "keep", "reason"} line per {"id", "text"} line

"lang" is the language holding most letters ("und": a language or script the detector does not know)
and "prob" its share of the letters.
"""
from __future__ import annotations

import io
import json
import sys

from schemas.jsonl import jsonl_stream_lines

DESCRIPTION = "Which languages hold the letters of text on stdin, and would the language stage keep it"


def register(sub) -> None:
    p = sub.add_parser("langid", help=DESCRIPTION, description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--jsonl", action="store_true", help='read {"id", "text"} lines, write one result line each')
    p.add_argument("--config", help="corpus YAML whose `language` section to use (default: shipped defaults)")
    p.add_argument("--whole", action="store_true",
                   help="windows over all of the text, however long (default: at most language.max_windows)")
    p.set_defaults(func=run)


def run(args) -> int:
    from gap_pipeline.config import ConfigError, load_config
    from transforms.language import judge

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        raise SystemExit(f"gap langid: {exc}")
    settings = cfg.language

    def identify(text: str) -> dict:
        decision = judge(text, settings, whole=args.whole)
        top, share = next(iter(decision.shares.items()), (decision.lang, decision.share))
        return {"lang": top, "prob": share, "shares": decision.shares, "keep": decision.reason is None,
                "reason": decision.reason}

    # Bytes the way they came, whatever the locale: an invalid UTF-8 byte must be an error, not a character
    # (Python's own stdin turns it into a surrogate, or dies with a traceback).
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="surrogateescape", newline="\n")
    if not args.jsonl:
        text = stdin.read()
        if not _is_utf8(text):
            print("gap langid: stdin is not valid UTF-8 text", file=sys.stderr)
            return 1
        print(json.dumps(identify(text), ensure_ascii=False))
        return 0
    failures = 0
    for line_no, line in jsonl_stream_lines(stdin):
        try:
            if not _is_utf8(line):
                raise ValueError("not valid UTF-8")
            obj = json.loads(line)
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise ValueError('need an object with a "text" string')
        except ValueError as exc:
            failures += 1
            print(f"gap langid: stdin line {line_no}: {exc}", file=sys.stderr)
            print(json.dumps({"id": None, "line": line_no, "error": str(exc)}))
            continue
        print(json.dumps({"id": obj.get("id"), **identify(obj["text"])}, ensure_ascii=False))
    return 1 if failures else 0


def _is_utf8(text: str) -> bool:
    """False when `text` holds an undecodable byte (a lone surrogate from errors="surrogateescape")."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
