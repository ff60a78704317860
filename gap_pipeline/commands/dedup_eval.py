"""`gap dedup-eval`: run exact + near dedup over JSONL documents and score the clusters.

Input lines: {"id", "text", "source"?, "subset"?, "date"?, "priority"?, "cluster"?}. Output lines,
in input order: {"id", "cluster", "kept"}, where "cluster" is the id of the document kept for the
set of duplicates it belongs to. When the input gives true clusters, pairwise precision, recall
and F1 go to stderr.
"""
from __future__ import annotations

import json
import os
import sys

DESCRIPTION = "Run exact+near dedup (configured parameters) over JSONL documents and score clusters"


def register(sub) -> None:
    p = sub.add_parser("dedup-eval", help=DESCRIPTION, description=__doc__.split("\n\n", 1)[1])
    p.add_argument("input", metavar="FILE.jsonl", help='documents: {"id", "text", "source"?, "cluster"?} per line')
    p.add_argument("--out", required=True, help='where to write {"id", "cluster", "kept"} lines')
    p.add_argument("--config", help="corpus YAML whose `dedup` section to use (default: the shipped defaults)")
    p.add_argument("--engine", choices=("beam", "local"), default="beam",
                   help="beam: the build's own dedup transforms on the local runner; local: the same decisions "
                        "in plain Python (faster for large evaluation sets)")
    p.set_defaults(func=run)


# The optional fields and what each may hold: a value of another type would be silently ignored by the
# survivor rule (a "priority" of "high" ranks the document by its subset), so it is refused instead.
_OPTIONAL_FIELDS = {"source": (str,), "subset": (str,), "priority": (int, float), "date": (str, int),
                    "year": (str, int), "cluster": (str, int)}


def _field_problem(obj: dict) -> str | None:
    for key, kinds in _OPTIONAL_FIELDS.items():
        value = obj.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            wanted = " or ".join({"str": "a string", "int": "an integer", "float": "a number"}[k.__name__]
                                 for k in kinds)
            return f'"{key}" must be {wanted}, got {json.dumps(value)}'
    return None


def _read_documents(path: str):
    from schemas.document import SUBSETS, Document

    from schemas.jsonl import jsonl_stream_lines

    docs, truth, seen = [], {}, set()
    with open(path, encoding="utf-8") as handle:
        for line_no, line in jsonl_stream_lines(handle):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"gap dedup-eval: {path}:{line_no}: not JSON ({exc.msg})")
            if not isinstance(obj, dict) or not isinstance(obj.get("id"), (str, int)) \
                    or not isinstance(obj.get("text"), str):
                raise SystemExit(f'gap dedup-eval: {path}:{line_no}: need an object with "id" and "text"')
            problem = _field_problem(obj)
            if problem:
                raise SystemExit(f"gap dedup-eval: {path}:{line_no}: {problem}")
            doc_id = str(obj["id"])
            if doc_id in seen:
                raise SystemExit(f"gap dedup-eval: {path}:{line_no}: duplicate id {doc_id!r}")
            seen.add(doc_id)
            source = str(obj.get("source") or "eval")
            subset = obj.get("subset") or (source if source in SUBSETS else "papers")
            if subset not in SUBSETS:
                raise SystemExit(f"gap dedup-eval: {path}:{line_no}: unknown subset {subset!r}")
            meta = {k: obj[k] for k in ("date", "year", "priority") if k in obj}
            docs.append(Document(id=doc_id, source=source, subset=subset, title="", text=obj["text"],
                                 meta=meta))
            if obj.get("cluster") is not None:
                truth[doc_id] = str(obj["cluster"])
    return docs, truth


def run(args) -> int:
    from gap_pipeline.config import ConfigError, load_config
    from transforms.dedup.evaluate import clusters, dedup_local, pairwise_scores

    try:
        cfg = load_config(args.config).dedup
    except ConfigError as exc:
        raise SystemExit(f"gap dedup-eval: {exc}")
    if os.path.isdir(args.out):
        raise SystemExit(f"gap dedup-eval: --out {args.out} is a folder; give the file to write")
    if os.path.exists(args.out) and os.path.exists(args.input) and os.path.samefile(args.out, args.input):
        raise SystemExit(f"gap dedup-eval: --out {args.out} is the input file; give another file to write")
    try:
        docs, truth = _read_documents(args.input)
    except UnicodeDecodeError as exc:
        raise SystemExit(f"gap dedup-eval: {args.input}: not valid UTF-8 ({exc.reason})")
    except OSError as exc:
        raise SystemExit(f"gap dedup-eval: cannot read {args.input}: {exc.strerror or exc}")
    if not docs:
        raise SystemExit(f"gap dedup-eval: {args.input}: holds no documents")
    params = cfg.minhash
    priority = dict(cfg.subset_priority)
    if args.engine == "local":
        lost_to = dedup_local(docs, params, priority, exact=cfg.exact, near=cfg.near)
    else:
        from transforms.keys import decide_on_documents, dedup_decisions

        # The build's own wiring (full text, exact, near on key records; a no-op full-text stage here:
        # evaluation documents carry no PMID/PMCID), over the documents held in one part file.
        dropped, _ = decide_on_documents(docs, lambda read: dedup_decisions(
            read, priority, params, exact=cfg.exact, near=cfg.near))
        lost_to = {drop.doc_id: drop.detail for drop in dropped}
    predicted = clusters([d.id for d in docs], lost_to)
    try:
        with open(args.out, "w", encoding="utf-8") as out:
            for doc in docs:
                out.write(json.dumps({"id": doc.id, "cluster": predicted[doc.id], "kept": doc.id not in lost_to}) + "\n")
    except OSError as exc:
        raise SystemExit(f"gap dedup-eval: cannot write --out {args.out}: {exc.strerror or exc}")
    print(f"gap dedup-eval: {len(docs)} documents, {len(docs) - len(lost_to)} kept, "
          f"{len(lost_to)} dropped as duplicates", file=sys.stderr)
    if truth:
        labelled = {doc_id: truth.get(doc_id, f"\x00singleton:{doc_id}") for doc_id in predicted}
        scores = pairwise_scores(predicted, labelled)
        print(f"pairwise precision {scores.precision:.4f} recall {scores.recall:.4f} f1 {scores.f1:.4f} "
              f"(true pairs {scores.true_pairs}, predicted {scores.predicted_pairs}, "
              f"correct {scores.correct_pairs})", file=sys.stderr)
    return 0
