"""`gap langid`: identify the language of text with the pipeline's detector (seeded langdetect on a
bounded sample of windows).

  echo "some text" | gap langid            -> {"lang": "en", "prob": 0.99}
  gap langid --jsonl < docs.jsonl          -> one {"id", "lang", "prob"} line per {"id", "text"} line
"""
from __future__ import annotations

import json

from schemas.jsonl import jsonl_stream_lines
import sys

DESCRIPTION = "Identify the language of text on stdin (seeded langdetect on sampled windows)"


def register(sub) -> None:
    p = sub.add_parser("langid", help=DESCRIPTION, description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--jsonl", action="store_true", help='read {"id", "text"} lines, write one result line each')
    p.add_argument("--config", help="corpus YAML whose `language` section to use (default: shipped defaults)")
    p.add_argument("--whole", action="store_true", help="judge the whole text instead of sampled windows")
    p.set_defaults(func=run)


def run(args) -> int:
    from gap_pipeline.config import ConfigError, load_config
    from transforms.language import LanguageSettings, detect_language, detect_language_whole

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        raise SystemExit(f"gap langid: {exc}")
    settings = LanguageSettings.from_config(cfg["language"])

    def identify(text: str) -> dict:
        lang, prob = detect_language_whole(text, settings.seed) if args.whole else detect_language(text, settings)
        return {"lang": lang, "prob": round(prob, 6)}

    if not args.jsonl:
        print(json.dumps(identify(sys.stdin.read())))
        return 0
    failures = 0
    for line_no, line in jsonl_stream_lines(sys.stdin):
        try:
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
