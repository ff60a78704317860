"""A labelled near-duplicate set built from real text in ../shared/realdata or its bundled subset
tests/data/realdata (the CDC reports are public domain and bundled; the NICE/WHO pages are not).

- Controlled edits: passages of CDC MMWR reports (US government, public domain) are edited by word
  substitutions, deletions, insertions and number changes ("5 mg" -> "50 mg") until the true
  Jaccard of their word 5-gram shingles lands at a chosen level. Each edited copy is paired with
  its own, otherwise unused, source passage, so pairs never overlap.
- Real versions: successive editions of the same CDC report series (e.g. the CDC Health
  Disparities and Inequalities Report 2011 vs 2013), and two captures of the same WHO and NICE
  pages (only where ../shared/realdata is present: they are third-party pages). Their label comes
  from their measured Jaccard like everything else.

Truth: two documents are duplicates iff the true Jaccard of their shingles >= the dedup
threshold. Pairs are reported per band of true Jaccard.
"""
from __future__ import annotations

import dataclasses
import hashlib
import html
import json
import random
import re
import zipfile
from pathlib import Path

from transforms.dedup.minhash import jaccard, shingles

CDC_ZIP = "3-guidelines/cdc_harvest/mmsu_art_en_txt_json.zip"
MOCK_SITES = "3-guidelines/reach_mock_sites"
# Successive editions of the same report series (CDC Health Disparities and Inequalities Report
# 2011 vs 2013, CDC surveillance supplement sections), found by measuring pairwise Jaccard.
REAL_VERSION_PAIRS = [
    ("https://www.cdc.gov/mmwr/preview/mmwrhtml/su6001a11.htm", "https://www.cdc.gov/mmwr/preview/mmwrhtml/su6203a31.htm"),
    ("https://www.cdc.gov/mmwr/preview/mmwrhtml/su6001a6.htm", "https://www.cdc.gov/mmwr/preview/mmwrhtml/su6203a10.htm"),
    ("https://www.cdc.gov/mmwr/preview/mmwrhtml/su6001a9.htm", "https://www.cdc.gov/mmwr/preview/mmwrhtml/su6203a29.htm"),
    ("https://www.cdc.gov/mmwr/preview/mmwrhtml/su6101a2.htm", "https://www.cdc.gov/mmwr/preview/mmwrhtml/su6201a1.htm"),
    ("https://www.cdc.gov/mmwr/volumes/72/su/su7201a1.htm", "https://www.cdc.gov/mmwr/volumes/73/su/su7304a1.htm"),
]
MOCK_CAPTURE_PAIRS = [
    ("who_base_tests_mock_sites_who_2.html", "who_wsf-scraper-web_tests_mock_sites_who_2.html"),
    ("nice_base_tests_mock_sites_nice_2.html", "nice_wsf-scraper-web_tests_mock_sites_nice_2.html"),
]
TARGET_LEVELS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5, 0.3)
BANDS = ((0.9, 1.01), (0.8, 0.9), (0.7, 0.8), (0.5, 0.7), (0.0, 0.5))
_FILLER = ("patients", "were", "treated", "with", "dose", "weekly", "clinical", "risk", "vaccine", "cases",
           "reported", "among", "adults", "children", "during", "state", "health", "data", "rate", "percent")


@dataclasses.dataclass(frozen=True)
class LabelledPair:
    a: dict  # {"id", "text", "source"}
    b: dict
    jaccard: float  # true Jaccard of the two shingle sets
    kind: str       # "edit" | "real_version" | "capture"


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x00".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def load_cdc_texts(realdata: Path) -> dict[str, str]:
    with zipfile.ZipFile(realdata / CDC_ZIP) as archive:
        data = json.loads(archive.read(archive.namelist()[0]))
    return {url: " ".join(text.split()) for url, text in sorted(data.items())}


def _page_text(path: Path) -> str:
    raw = path.read_text(encoding="utf-8", errors="replace")
    raw = re.sub(r"<script.*?</script>|<style.*?</style>", " ", raw, flags=re.S | re.I)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", raw)).split())


def _edit(words: list[str], rate: float, rng: random.Random) -> list[str]:
    out: list[str] = []
    for word in words:
        roll = rng.random()
        if roll >= rate:
            out.append(word)
        elif word[:1].isdigit():
            out.append(word + "0")  # a dose or count changed: 5 -> 50
        elif roll < rate * 0.2:
            continue  # deleted
        elif roll < rate * 0.35:
            out.extend([word, rng.choice(_FILLER)])  # inserted
        else:
            out.append(rng.choice(_FILLER))  # substituted
    return out


def edited_copy(text: str, target: float, key: str) -> tuple[str, float]:
    """A copy of `text` whose shingle Jaccard with it is as close to `target` as a search finds."""
    words = text.split()
    base = shingles(text)
    if target >= 1.0:  # identical shingles, different layout and case: exact dedup's job
        return "  " + text.upper().replace(". ", ".\n"), 1.0
    low, high, best = 0.0, 1.0, (text, 1.0)
    for step in range(14):
        rate = (low + high) / 2
        candidate = " ".join(_edit(words, rate, _rng(key, target, step)))
        sim = jaccard(base, shingles(candidate))
        if abs(sim - target) < abs(best[1] - target):
            best = (candidate, sim)
        if sim > target:
            low = rate
        else:
            high = rate
        if abs(sim - target) < 0.01:
            break
    return best


def build_pairs(realdata: Path, passages_per_level: int = 6, passage_words: int = 400) -> list[LabelledPair]:
    texts = load_cdc_texts(realdata)
    real_urls = {u for pair in REAL_VERSION_PAIRS for u in pair}
    # Passages from the body of each report (skipping the accessibility notice at the top).
    passages: list[tuple[str, str]] = []
    for url, text in texts.items():
        if url in real_urls:
            continue
        words = text.split()[80:]
        for k in range(0, len(words) - passage_words, passage_words * 3):
            passages.append((f"{url}#w{k}", " ".join(words[k:k + passage_words])))
    _rng("passages").shuffle(passages)
    pairs: list[LabelledPair] = []
    index = 0
    for level in TARGET_LEVELS:
        for _ in range(passages_per_level):
            locator, passage = passages[index]
            index += 1
            copy, sim = edited_copy(passage, level, locator)
            pairs.append(LabelledPair({"id": f"edit{index}a", "text": passage, "source": "papers"},
                                      {"id": f"edit{index}b", "text": copy, "source": "papers"}, sim, "edit"))
    for n, (first, second) in enumerate(REAL_VERSION_PAIRS):
        a, b = texts[first], texts[second]
        pairs.append(LabelledPair({"id": f"version{n}a", "text": a, "source": "guidelines", "date": "2011"},
                                  {"id": f"version{n}b", "text": b, "source": "guidelines", "date": "2013"},
                                  jaccard(shingles(a), shingles(b)), "real_version"))
    for n, (first, second) in enumerate(MOCK_CAPTURE_PAIRS):
        if not all((realdata / MOCK_SITES / name).is_file() for name in (first, second)):
            continue  # not redistributable: absent from tests/data/realdata (tests/data/NOT_BUNDLED.tsv)
        a, b = (_page_text(realdata / MOCK_SITES / name) for name in (first, second))
        pairs.append(LabelledPair({"id": f"capture{n}a", "text": a, "source": "guidelines"},
                                  {"id": f"capture{n}b", "text": b, "source": "guidelines"},
                                  jaccard(shingles(a), shingles(b)), "capture"))
    return pairs


def documents_with_truth(pairs: list[LabelledPair], threshold: float) -> list[dict]:
    """dedup-eval input lines: a pair shares a true cluster iff its Jaccard >= threshold."""
    docs = []
    for pair in pairs:
        same = pair.jaccard >= threshold
        docs.append({**pair.a, "cluster": pair.a["id"]})
        docs.append({**pair.b, "cluster": pair.a["id"] if same else pair.b["id"]})
    return docs


def band_report(pairs: list[LabelledPair], predicted_cluster: dict[str, str], threshold: float) -> list[dict]:
    """Per band of true Jaccard: pairs, pairs merged, and recall (bands at or above the threshold)
    or false merges (bands below it)."""
    rows = []
    for low, high in BANDS:
        inside = [p for p in pairs if low <= p.jaccard < high]
        merged = sum(predicted_cluster[p.a["id"]] == predicted_cluster[p.b["id"]] for p in inside)
        positive = low >= threshold
        rows.append({"band": f"[{low:.1f}, {min(high, 1.0):.1f}{']' if high > 1 else ')'}", "pairs": len(inside),
                     "merged": merged, "duplicates": positive,
                     "recall": (merged / len(inside) if inside else None) if positive else None,
                     "false_merges": None if positive else merged})
    return rows
