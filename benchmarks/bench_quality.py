"""Quality stage: false drops on real curated documents, and junk still dropped.

Good documents: every NGC guideline summary, PMC/PLOS/SciELO JATS paper and MEDLINE abstract in
../shared/realdata, extracted and cleaned as the pipeline does (testkit/quality_sets.py).
Junk: navigation menus and link lists made of real pages' links, error pages in real site chrome,
boilerplate-only pages, and real documents mis-decoded; read as a source added with `gap sources add`.
Both are judged with the shipped config's thresholds (per subset), and with Gopher's web thresholds
measured on the whole text (the behaviour before per-subset thresholds and prose-only repetition).
"""
from __future__ import annotations

import collections
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

REALDATA = Path(os.environ.get("GAP_REALDATA", REPO.parent / "shared" / "realdata"))
if not REALDATA.is_dir():
    REALDATA = Path("/work/shared/realdata")


def _whole_text_gopher(section) -> "callable":
    """Web thresholds on the whole text (no per-subset overrides, no prose-only repetition)."""
    import transforms.quality as q

    web = {k: v for k, v in section.to_dict().items() if k in q.THRESHOLD_KEYS and k not in ("min_prose_words",
                                                                                  "max_garbled_ratio")}

    def reason(doc):
        original = q.prose_for_repetition
        q.prose_for_repetition = lambda text: "\n".join(
            line.strip() for line in q._REPEATING_BY_DESIGN.sub(" ", text).split("\n") if line.strip())
        try:
            return q.quality_reason(doc.text, web)
        finally:
            q.prose_for_repetition = original
    return reason


def bench(quick: bool = False) -> str:
    from gap_pipeline.config import load_config
    from schemas.document import Document
    from testkit.quality_sets import NOT_GOOD, good_documents, junk_documents
    from transforms.quality import quality_fn

    if not REALDATA.is_dir():
        return "## Quality filters\n\nskipped: ../shared/realdata not available\n"
    section = load_config().quality
    check = quality_fn(section)
    before = _whole_text_gopher(section)
    started = time.time()
    good = collections.defaultdict(lambda: [0, 0, 0])  # subset -> [docs, dropped now, dropped before]
    good_reasons: collections.Counter = collections.Counter()
    dropped_names = []
    for subset, name, doc in good_documents(REALDATA, per_set=40 if quick else None):
        row = good[subset]
        row[0] += 1
        result = check(doc)
        if not isinstance(result, Document):
            row[1] += 1
            good_reasons[result.reason] += 1
            dropped_names.append(f"{name} ({result.reason})")
        row[2] += before(doc) is not None
    junk = collections.defaultdict(lambda: [0, 0, 0, 0, 0])  # kind -> [pages, pre-quality, by quality, kept, kept before]
    junk_reasons: collections.Counter = collections.Counter()
    kept_junk = []
    for kind, name, docs in junk_documents(REALDATA, per_kind=10 if quick else 30):
        row = junk[kind]
        row[0] += 1
        if not docs:
            row[1] += 1
            continue
        results = [check(d) for d in docs]
        row[4] += any(before(d) is None for d in docs)
        if all(not isinstance(r, Document) for r in results):
            row[2] += 1
            junk_reasons.update(r.reason for r in results)
        else:
            row[3] += 1
            kept_junk.append(f"{kind}: {name}")
    elapsed = time.time() - started

    lines = ["## Quality filters: false drops on curated text, junk still dropped", "",
             "Real documents from `../shared/realdata`, extracted and cleaned as the pipeline does, judged with the "
             "shipped `quality` config (per-subset thresholds, repetition measured on prose only). *Before*: "
             "Gopher's web thresholds on the whole text, as every subset had them before. Set built by "
             "`testkit/quality_sets.py`" + (" (quick: 40 documents per subset, 10 pages per junk kind)" if quick else "")
             + f"; {len(NOT_GOOD)} records read and judged not good are left out ({'; '.join(NOT_GOOD.values())}).", "",
             "| good documents | docs | dropped by quality | false-drop rate | before |", "|---|---|---|---|---|"]
    total = [0, 0, 0]
    for subset in ("guidelines", "papers", "abstracts"):
        n, now, old = good[subset]
        total = [total[0] + n, total[1] + now, total[2] + old]
        lines.append(f"| {subset} | {n} | {now} | {100 * now / max(n, 1):.1f}% | {100 * old / max(n, 1):.1f}% |")
    lines.append(f"| **all** | {total[0]} | {total[1]} | **{100 * total[1] / max(total[0], 1):.1f}%** | "
                 f"{100 * total[2] / max(total[0], 1):.1f}% |")
    lines += ["", "Drop reasons on good documents: " + (", ".join(f"{r} {c}" for r, c in good_reasons.most_common())
                                                       or "none")]
    if dropped_names:
        lines.append("Dropped good documents: " + ", ".join(dropped_names[:12]))
    lines += ["", "| junk pages | pages | dropped before quality (extract/clean) | dropped by quality | kept | dropped | "
                  "dropped before |", "|---|---|---|---|---|---|---|"]
    jt = [0, 0, 0, 0, 0]
    for kind in ("navigation", "link_list", "error", "boilerplate", "garbled"):
        n, pre, by_q, kept, kept_before = junk[kind]
        jt = [a + b for a, b in zip(jt, (n, pre, by_q, kept, kept_before))]
        lines.append(f"| {kind} | {n} | {pre} | {by_q} | {kept} | {100 * (n - kept) / max(n, 1):.1f}% | "
                     f"{100 * (n - kept_before) / max(n, 1):.1f}% |")
    lines.append(f"| **all** | {jt[0]} | {jt[1]} | {jt[2]} | {jt[3]} | **{100 * (jt[0] - jt[3]) / max(jt[0], 1):.1f}%** | "
                 f"{100 * (jt[0] - jt[4]) / max(jt[0], 1):.1f}% |")
    lines += ["", "Quality reasons on junk: " + ", ".join(f"{r} {c}" for r, c in junk_reasons.most_common())]
    if kept_junk:
        lines.append("Junk kept: " + ", ".join(kept_junk[:12]))
    lines += ["", f"Measured in {elapsed:.0f} s (extraction included).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    print(bench(quick="--quick" in sys.argv))
