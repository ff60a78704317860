"""Benchmark of the language stage (issue 14): decisions by share of letters side by side with the
detectors it replaced, on mixed-language documents, real single-language documents and lingua's
sentences; plus speed.

Detectors compared (all seeded langdetect underneath):
- shares (gap now): windows over the whole text vote with their letter counts; scripts by Unicode
  ranges; langdetect answers count only when sure and, in Latin/Cyrillic text, with enough common
  words of the language; keep when allowed languages hold >= `language.min_share` of the letters;
- sampled (gap before): one langdetect call on 5 joined windows of 200 characters; keep when it says
  English with probability >= `language.min_prob`;
- whole: langdetect's own `Detector` on the whole text (its first 10,000 characters, 7 walks), as the
  original pipeline did; same keep rule.
"""
from __future__ import annotations

import collections
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

REALDATA = Path(os.environ.get("GAP_REALDATA", REPO.parent / "shared" / "realdata"))


def _detectors(settings):
    from transforms.language import detect_language_sampled, detect_language_whole, judge

    def shares(text: str) -> bool:
        return judge(text, settings).reason is None

    def sampled(text: str) -> bool:
        lang, prob = detect_language_sampled(text, settings)
        return lang in settings.allowed and prob >= settings.min_prob

    def whole(text: str) -> bool:
        lang, prob = detect_language_whole(text, settings.seed)
        return lang in settings.allowed and prob >= settings.min_prob

    return {"shares (gap now)": shares, "sampled (gap before)": sampled, "whole-document langdetect": whole}


def _timed(fn, texts: list[str]) -> tuple[float, list[bool]]:
    start = time.perf_counter()
    answers = [fn(t) for t in texts]
    return time.perf_counter() - start, answers


def _bench_mixed(per_kind: int) -> list[str]:
    from testkit.langid_set import mixed_documents
    from transforms.language import LanguageSettings, judge

    settings = LanguageSettings()
    items = mixed_documents(REALDATA, per_kind=per_kind)
    detectors = _detectors(settings)
    answers = {name: [fn(text) for _, _, _, text, _ in items] for name, fn in detectors.items()}
    kinds = list(dict.fromkeys(kind for kind, *_ in items))
    names = list(detectors)
    out = ["### Mixed-language documents", "",
           f"{len(items)} documents assembled by `testkit/langid_set.py::mixed_documents` from the real texts "
           "(lingua's sentences, E3C, SPACCC, GraSCCo, CDC MMWR English reports, PLOS articles and their reference "
           "lists) and gap's English site navigation/footer (~670 characters): a foreign main text (~1,000 characters; "
           "zh, ja, ko, ru, ar, es, pt, de, fr, it and real clinical texts) between English navigation; foreign papers "
           "with an English abstract; foreign texts with English references; English papers with a foreign abstract; "
           "English papers with their own references; text in 20 languages langdetect has no profile for (az, be, eo, "
           "eu, ga, hy, is, ka, kk, la, lg, mi, mn, sn, st, tn, ts, xh, yo, zu), alone and between English navigation. "
           "Truth: keep as English when English holds at least half of the letters (known from the assembly).", "",
           "| kind | docs | " + " | ".join(f"{n} correct" for n in names) + " | shares: mean abs. error of the English share |",
           "|---|---:|" + "---:|" * len(names) + "---:|"]
    for kind in kinds:
        idx = [i for i, item in enumerate(items) if item[0] == kind]
        cells = [f"{sum(answers[n][i] == items[i][2] for i in idx)}/{len(idx)}" for n in names]
        mae = statistics.mean(abs(judge(items[i][3], settings).shares.get("en", 0.0) - items[i][4]) for i in idx)
        out.append(f"| {kind} | {len(idx)} | " + " | ".join(cells) + f" | {mae:.3f} |")
    totals = [f"**{sum(a == item[2] for a, item in zip(answers[n], items)) / len(items):.3f}**" for n in names]
    out += [f"| all | {len(items)} | " + " | ".join(totals) + " | |", ""]
    wrong = [(item[0], item[1], judge(item[3], settings).shares) for a, item in zip(answers[names[0]], items)
             if a != item[2]]
    if wrong:
        out += ["Shares got wrong: " + "; ".join(f"{k} ({m}): {s}" for k, m, s in wrong), ""]
    return out


def _bench_documents(per_group: int, repeats: int) -> list[str]:
    from testkit.langid_set import documents
    from transforms.language import LanguageSettings, judge

    settings = LanguageSettings()
    docs = documents(REALDATA, per_group=per_group)
    texts = [t for _, _, t in docs]
    truth = [c == "en" for c, _, _ in docs]
    judge("warm up the profiles, regex and word lists once before timing anything", settings)
    detectors = _detectors(settings)
    times: dict[str, list[float]] = collections.defaultdict(list)
    answers: dict[str, list[bool]] = {}
    for _ in range(repeats):  # alternated in the same process
        for name, fn in detectors.items():
            seconds, answers[name] = _timed(fn, texts)
            times[name].append(seconds)
    chars = sum(len(t) for t in texts)
    out = ["### Single-language real documents (English vs rest)", "",
           f"{len(docs)} real documents ({chars / 1e6:.1f} M characters), whole texts as they are: E3C clinical "
           "narratives (en/es/fr/it/eu), SPACCC Spanish clinical cases, GraSCCo German discharge letters, CDC MMWR "
           f"reports (en, long) and CDC MMWR Spanish articles (HTML stripped). Time: median of {repeats} passes, the "
           "detectors alternated in the same process (2 shared, noisy cores).", "",
           "| detector | seconds (median) | all passes | docs/s | English-vs-rest accuracy |", "|---|---:|---|---:|---:|"]
    for name in detectors:
        med = statistics.median(times[name])
        acc = sum(a == t for a, t in zip(answers[name], truth)) / len(docs)
        out.append(f"| {name} | {med:.2f} | {', '.join(f'{t:.2f}' for t in times[name])} | {len(docs) / med:.1f} | "
                   f"{acc:.3f} |")
    groups = sorted({(g, c) for c, g, _ in docs})
    out += ["", "| group | language | docs | " + " | ".join(detectors) + " |", "|---|---|---:|" + "---:|" * len(detectors)]
    for group, code in groups:
        idx = [i for i, (c, g, _) in enumerate(docs) if g == group and c == code]
        out.append(f"| {group} | {code} | {len(idx)} | "
                   + " | ".join(str(sum(answers[n][i] == truth[i] for i in idx)) for n in detectors) + " |")
    kept = [judge(t, settings) for t, keep in zip(texts, truth) if keep]
    shares = sorted(d.shares.get("en", 0.0) for d in kept)
    out += ["", f"English share of the English documents (shares): min {shares[0]:.3f}, median "
            f"{statistics.median(shares):.3f} (the rest is mostly 'und': tables, reference lists, names).", ""]
    return out


def _bench_sentences(per_language: int) -> list[str]:
    from testkit.langid_set import lingua_sentences
    from transforms.language import LanguageSettings

    settings = LanguageSettings(short_text_chars=20)  # single sentences
    items = lingua_sentences(REALDATA, per_language=per_language)
    detectors = _detectors(settings)
    out = ["### lingua's test sentences", "",
           f"{per_language} sentences per language, {len(items) // per_language} languages (single sentences; "
           "short-text limit lowered to 20 letters).", "",
           "| detector | English-vs-rest accuracy | English recall | worst languages |", "|---|---:|---:|---|"]
    for name, fn in detectors.items():
        per: dict[str, list[bool]] = collections.defaultdict(list)
        for code, _, text in items:
            per[code].append(fn(text) == (code == "en"))
        acc = sum(sum(v) for v in per.values()) / len(items)
        worst = sorted(per.items(), key=lambda kv: (sum(kv[1]) / len(kv[1]), kv[0]))[:6]
        out.append(f"| {name} | {acc:.3f} | {sum(per['en']) / len(per['en']):.3f} | "
                   + ", ".join(f"{c} {sum(v) / len(v):.2f}" for c, v in worst) + " |")
    out.append("")
    return out


def _bench_fast_path(per_group: int) -> list[str]:
    from testkit.langid_set import documents
    from transforms.language import _fast_langdetect, _langdetect, text_windows

    windows = [w for _, _, t in documents(REALDATA, per_group=per_group) for w in text_windows(t, 200, 20)[:3]]
    same = sum(_fast_langdetect(w, 0, 2) == _langdetect(w, 0, 2) for w in windows)
    return [f"Per window, gap's numpy re-implementation of langdetect answered exactly as langdetect's `Detector` "
            f"on {same}/{len(windows)} windows of these documents (also a test).", ""]


def bench(quick: bool = False) -> str:
    lines = ["## Language identification by share of letters", ""]
    if not REALDATA.is_dir():
        return "\n".join(lines + [f"Skipped: real documents not found at {REALDATA}.", ""])
    lines += ["Settings: the shipped `language` section (windows of 200 characters, at most 20 per document, 2 "
              "langdetect walks per window, min_prob 0.8, min_common_words 0.05, min_share 0.5, allowed [en]). "
              + ("Quick mode (smaller sets)." if quick else ""), ""]
    lines += _bench_mixed(per_kind=4 if quick else 10)
    lines += _bench_documents(per_group=6 if quick else 20, repeats=1 if quick else 3)
    lines += _bench_sentences(per_language=5 if quick else 30)
    lines += _bench_fast_path(per_group=2 if quick else 6)
    return "\n".join(lines)


if __name__ == "__main__":
    print(bench(quick="--quick" in sys.argv))
