"""Language-identification evaluation sets read from ../shared/realdata or its bundled subset.

- sentences: lingua's per-language test sentences (75 languages), a fixed sample per language;
- documents: E3C clinical texts (en/es/fr/it/eu), SPACCC Spanish clinical cases, GraSCCo German
  discharge letters, CDC MMWR reports (long English documents) and CDC MMWR Spanish articles.
Each item is (language code, group, text); the English-vs-rest truth is `code == "en"`.
lingua's sentences and E3C are non-commercial and not in tests/data/realdata: there `documents` holds
the SPACCC, GraSCCo and CDC groups only, and `lingua_sentences` skips the test (conftest.need).
"""
from __future__ import annotations

import hashlib
import html
import json
import re
import zipfile
from pathlib import Path

from testkit.realdata import need

LANGID = "4-multilingual-langid"
E3C_CODES = {"English": "en", "Spanish": "es", "French": "fr", "Italian": "it", "Basque": "eu"}


def _pick(items: list, k: int, key: str) -> list:
    """A deterministic sample: the k items with the smallest hash of (key, position)."""
    order = sorted(range(len(items)), key=lambda i: hashlib.sha256(f"{key}:{i}".encode()).digest())
    return [items[i] for i in sorted(order[:k])]


def lingua_sentences(realdata: Path, per_language: int = 20) -> list[tuple[str, str, str]]:
    need(realdata, f"{LANGID}/lingua_testdata/sentences")
    out = []
    for path in sorted((realdata / LANGID / "lingua_testdata" / "sentences").glob("*.txt")):
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        out.extend((path.stem, "lingua", s) for s in _pick(lines, per_language, path.stem))
    return out


def _html_text(raw: str) -> str:
    raw = re.sub(r"<script.*?</script>|<style.*?</style>", " ", raw, flags=re.S | re.I)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", raw)).split())


def documents(realdata: Path, per_group: int = 20) -> list[tuple[str, str, str]]:
    base = realdata / LANGID
    out = []
    for folder, code in E3C_CODES.items():
        files = sorted((base / "medical_e3c_layer1" / folder).glob("*.json"))
        out.extend((code, "e3c", json.loads(f.read_text(encoding="utf-8"))["text"]) for f in _pick(files, per_group, folder))
    spaccc = sorted((base / "medical_es_meddocan").glob("*.txt"))
    out.extend(("es", "spaccc", f.read_text(encoding="utf-8")) for f in _pick(spaccc, per_group, "spaccc"))
    letters = [json.loads(line) for line in (base / "medical_de_grascco" / "grascco_documents.jsonl").open(encoding="utf-8")]
    out.extend(("de", "grascco", d["text"]) for d in _pick(letters, per_group, "grascco"))
    cdc = realdata / "3-guidelines" / "cdc_harvest"
    with zipfile.ZipFile(cdc / "mmsu_art_en_txt_json.zip") as z:
        reports = json.loads(z.read(z.namelist()[0]))
    out.extend(("en", "cdc_en", reports[u]) for u in _pick(sorted(reports), per_group, "cdc_en"))
    with zipfile.ZipFile(cdc / "mmwr_art_es_html_json.zip") as z:
        articles = json.loads(z.read(z.namelist()[0]))
    texts = [_html_text(articles[u]) for u in _pick(sorted(articles), per_group, "cdc_es")]
    out.extend(("es", "cdc_es", t) for t in texts if t)
    return out


# --------------------------------------------------------------------------- mixed-language documents
# Documents assembled from the real texts above, in the shapes that fooled the single-sample detector:
# a non-English main text with English navigation, an English abstract or English references attached,
# and the reverse (English main text with a foreign abstract, English papers with their references);
# plus text in languages langdetect has no profile for, alone and inside English navigation. Built by
# code at run time (nothing here is copied into the repository: lingua's and E3C's texts are
# non-commercial). Each item: (kind, main language, keep_as_english, text, true English letter share);
# keep_as_english is true when English holds at least half of the letters.
UNKNOWN_TO_LANGDETECT = ("az", "be", "eo", "eu", "ga", "hy", "is", "ka", "kk", "la", "lg", "mi", "mn", "sn",
                         "st", "tn", "ts", "xh", "yo", "zu")
FURNITURE_MAIN = ("zh", "ja", "ko", "ru", "ar", "es", "pt", "de", "fr", "it")


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


def _chunk(sentences: list[str], chars: int) -> str:
    out, size = [], 0
    for s in sentences:
        if size >= chars:
            break
        out.append(s)
        size += len(s) + 1
    return " ".join(out)


def _lingua_lines(realdata: Path, code: str) -> list[str]:
    path = need(realdata, f"{LANGID}/lingua_testdata/sentences/{code}.txt")
    return [line.strip() for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def _plos_parts(realdata: Path, k: int) -> list[tuple[str, str]]:
    """(body text, reference-list text) of k PLOS articles (English, CC-BY)."""
    from lxml import etree

    files = sorted((realdata / "1-pmc-jats" / "plos_starter_corpus").glob("*.xml"))
    out = []
    for f in _pick(files, k, "plos"):
        root = etree.parse(str(f)).getroot()
        body = " ".join(" ".join(b.itertext()) for b in root.iter("body"))
        refs = "\n".join(" ".join(" ".join(r.itertext()).split()) for r in root.iter("ref"))
        if body.strip() and refs.strip():
            out.append((" ".join(body.split()), refs))
    return out


def mixed_documents(realdata: Path, per_kind: int = 10) -> list[tuple[str, str, bool, str, float]]:
    from testkit.mixed_texts import NAV_FOOTER, NAV_TOP

    # CDC's Spanish pages carry English site furniture of their own: their true shares are unknown
    docs = [d for d in documents(realdata, per_group=max(per_kind, 6)) if d[1] != "cdc_es"]
    english = [t for c, g, t in docs if c == "en" and len(t) > 2500]
    foreign = [(c, t) for c, g, t in docs if c != "en" and len(t) > 2500]
    foreign_short = [(c, t) for c, g, t in docs if c != "en" and len(t) > 900]
    furniture = NAV_TOP + "\n", "\n" + NAV_FOOTER
    items: list[tuple[str, str, bool, str, float]] = []

    def add(kind: str, main: str, parts: list[tuple[str, bool]]) -> None:
        """The truth follows the letters: keep as English when English holds at least half of them."""
        text = "".join(p for p, _ in parts)
        en = sum(_letters(p) for p, is_en in parts if is_en) / max(1, _letters(text))
        items.append((kind, main, en >= 0.5, text, round(en, 4)))

    # 1. a foreign main text of about 1,000 characters between English navigation and a footer
    for code in FURNITURE_MAIN:
        lines = _lingua_lines(realdata, code)
        for i in range(max(1, per_kind // 5)):
            main = _chunk(_pick(lines, 40, f"furniture:{code}:{i}"), 1000)
            add("foreign main + English navigation", code, [(furniture[0], True), (main, False),
                                                                   (furniture[1], True)])
    for code, text in _pick(foreign_short, per_kind, "furniture:real"):
        add("foreign main + English navigation", code, [(furniture[0], True), (text[:1500], False),
                                                               (furniture[1], True)])
    # 2. a foreign paper with an English abstract (the first ~1,200 characters of an English document)
    for n, (code, text) in enumerate(_pick(foreign, per_kind, "abstract:foreign")):
        abstract = english[n % len(english)][:1200]
        add("foreign paper + English abstract", code, [("Abstract\n" + abstract + "\n", True), (text, False)])
    # 3. a foreign guideline or paper with English references
    plos = _plos_parts(realdata, max(per_kind, 4))
    for n, (code, text) in enumerate(_pick(foreign, per_kind, "refs:foreign")):
        refs = plos[n % len(plos)][1][:1500]
        add("foreign text + English references", code, [(text + "\n", False), ("References\n" + refs, True)])
    # 4. an English paper with a foreign abstract (the first ~1,000 characters of a foreign document)
    for n, text in enumerate(_pick(english, per_kind, "abstract:english")):
        code, abstract = foreign_short[n % len(foreign_short)]
        add("English paper + foreign abstract", "en", [(abstract[:1000] + "\n", False), (text, True)])
    # 5. English papers with their own references (must stay English)
    for body, refs in plos[:per_kind]:
        add("English paper + its references", "en", [(body + "\n", True), ("References\n" + refs, True)])
    # 6. languages langdetect does not know, alone and between English navigation
    for code in UNKNOWN_TO_LANGDETECT[: max(per_kind * 2, 10)]:
        lines = _lingua_lines(realdata, code)
        add("unknown language", code, [(_chunk(_pick(lines, 40, f"unknown:{code}"), 1500), False)])
        main = _chunk(_pick(lines, 40, f"unknown-nav:{code}"), 1000)
        add("unknown language + English navigation", code, [(furniture[0], True), (main, False),
                                                                   (furniture[1], True)])
    return items
