"""Language-identification evaluation sets read from ../shared/realdata (never copied).

- sentences: lingua's per-language test sentences (75 languages), a fixed sample per language;
- documents: E3C clinical texts (en/es/fr/it/eu), SPACCC Spanish clinical cases, GraSCCo German
  discharge letters, CDC MMWR reports (long English documents) and CDC MMWR Spanish articles.
Each item is (language code, group, text); the English-vs-rest truth is `code == "en"`.
"""
from __future__ import annotations

import hashlib
import html
import json
import re
import zipfile
from pathlib import Path

LANGID = "4-multilingual-langid"
E3C_CODES = {"English": "en", "Spanish": "es", "French": "fr", "Italian": "it", "Basque": "eu"}


def _pick(items: list, k: int, key: str) -> list:
    """A deterministic sample: the k items with the smallest hash of (key, position)."""
    order = sorted(range(len(items)), key=lambda i: hashlib.sha256(f"{key}:{i}".encode()).digest())
    return [items[i] for i in sorted(order[:k])]


def lingua_sentences(realdata: Path, per_language: int = 20) -> list[tuple[str, str, str]]:
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
