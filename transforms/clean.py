"""Text cleaning: what MEDITRON's guideline cleaner meant to do, without its bugs.

MEDITRON's list normaliser rewrote a leading "o" to "-" anywhere it started a line, so "one" became
"-ne"; its reference remover deleted every bracketed span, taking "[endometriosis centres]" and
"(ACIP)" with the citations. Here every rule is anchored and narrow:
- bullets: only bullet glyphs, or a lone "o"/"▪" *followed by a space* at the start of a line, become "- ";
- citations: only brackets holding nothing but citation numbers ("[1]", "[2, 5-7]", "(3)" before
  punctuation) are removed; any bracket with words in it is kept;
- URLs and e-mail addresses are removed (`remove_urls`), and the "()" they leave behind;
- figure/table residue: "(see Figure 2)", "(Table 1)" references and lines that are only "Figure 3"
  are removed; a caption with words ("Table 1. Doses ...") is kept;
- unicode: NFC, ligatures spelled out, control and zero-width characters removed, spaces unified;
- whitespace: trailing spaces gone, at most one blank line between blocks.

Per-source rules (the `cleaning` part of a source spec): `starters` (regexes; text before the first
matching line is cut), `stoppers` (text from the first matching line on is cut, e.g. "^## References"),
`removers` (regexes deleted wherever they match), `min_length` (characters; shorter documents are
dropped as `too_short_after_clean`), `remove_urls`, `remove_citations` (both default true).

Boilerplate: lines present in many documents of one source (cookie notices, "Page last reviewed",
disclaimers) are found from per-source line counts (`boilerplate_table`, the one cross-document step: the
counts are keys, never texts) and removed from each document by `boilerplate_fn`.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any, Callable

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.document import Document
from schemas import stages
from schemas.events import Drop, make_drop

STAGE = stages.CLEAN
BOILERPLATE_STAGE = stages.BOILERPLATE

_COMPAT = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl", "\ufb05": "st",
           "\ufb06": "st", "\u00ad": "", "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\ufeff": "",
           "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2009": " ", "\u202f": " ", "\u3000": " ",
           "\t": " ", "\r": ""}
_COMPAT_RE = re.compile("|".join(map(re.escape, _COMPAT)))
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_BULLET_START = re.compile(r"^(\s*)(?:[•●▪■◦○‣∙►▶➢✓\uf0b7\uf0a7\uf076\uf0d8]|o(?=\s)|\*(?=\s))\s*", re.MULTILINE)
_URL = re.compile(r"(?:https?://|ftp://|www\.)[^\s<>\"')\]]*[^\s<>\"')\].,;:!?]", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_EMPTY_BRACKETS = re.compile(r"\s*(?:\(\s*[,;:]?\s*\)|\[\s*[,;:]?\s*\])")
_CITE_NUMS = r"\d{1,4}[a-z]?(?:\s*[-–—,;]\s*\d{1,4}[a-z]?)*"
_CITE_SQUARE = re.compile(r"\s?\[" + _CITE_NUMS + r"\]")
# "(3)" / "(4,5)" only when a sentence continues with punctuation or ends: "(1) identify" is a list.
_CITE_ROUND = re.compile(r"(?<=[^\s(\d])\s?\(" + _CITE_NUMS + r"\)(?=[.,;:]|\s*$)", re.MULTILINE)
_FIGURE_REF = re.compile(r"\s?\((?:see\s+|e\.g\.,?\s+)?(?:figures?|figs?\.|tables?|appendix|box)\s+[A-Z]?\d+[A-Za-z]?"
                         r"(?:\s*(?:and|,|-|–)\s*[A-Z]?\d+[A-Za-z]?)*\)", re.IGNORECASE)
_FIGURE_LINE = re.compile(r"^[ \t]*(?:figure|fig\.|table|box)\s+[A-Z]?\d+[A-Za-z]?[.:]?[ \t]*(?:\n|$)",
                          re.IGNORECASE | re.MULTILINE)
_SPACES = re.compile(r"[ ]{2,}")
_SPACE_BEFORE_PUNCT = re.compile(r" +([.,;:!?])(?=\s|$)")
_BLANK_LINES = re.compile(r"\n{3,}")


def normalise_unicode(text: str) -> str:
    text = _COMPAT_RE.sub(lambda m: _COMPAT[m.group(0)], text)
    text = _CONTROL.sub("", text)
    return unicodedata.normalize("NFC", text)


def normalise_bullets(text: str) -> str:
    """Bullet glyphs (and Word's "o " sub-bullet) at a line start become "- "; words are untouched."""
    return _BULLET_START.sub(lambda m: m.group(1) + "- ", text)


def remove_urls(text: str) -> str:
    text = _URL.sub("", text)
    text = _EMAIL.sub("", text)
    return _EMPTY_BRACKETS.sub("", text)


def remove_citations(text: str) -> str:
    """Numeric citation brackets only; brackets with words in them stay."""
    text = _CITE_SQUARE.sub("", text)
    return _CITE_ROUND.sub("", text)


def remove_figure_residue(text: str) -> str:
    text = _FIGURE_REF.sub("", text)
    return _FIGURE_LINE.sub("", text)


def tidy_whitespace(text: str) -> str:
    lines = [_SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", line)).rstrip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _patterns(values: Any, key: str) -> list[re.Pattern]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    compiled = []
    for value in values:
        try:
            compiled.append(_compile(value))
        except re.error as exc:
            raise ValueError(f"cleaning.{key}: bad regular expression {value!r}: {exc}") from exc
    return compiled


_PATTERN_CACHE: dict[str, re.Pattern] = {}


def _compile(pattern: str) -> re.Pattern:
    found = _PATTERN_CACHE.get(pattern)
    if found is None:
        found = _PATTERN_CACHE[pattern] = re.compile(pattern, re.MULTILINE | re.IGNORECASE)
    return found


def cleaning_rules(rules: dict[str, Any] | None) -> dict[str, Any]:
    """Accept either the spec's `cleaning` dict or {content:..., cleaning:...}."""
    rules = rules or {}
    cleaning = rules.get("cleaning")
    return cleaning if isinstance(cleaning, dict) else rules


def apply_source_rules(text: str, cleaning: dict[str, Any]) -> str:
    """starters / stoppers / removers of a source spec."""
    for pattern in _patterns(cleaning.get("starters"), "starters"):
        match = pattern.search(text)
        if match:
            text = text[text.rfind("\n", 0, match.start()) + 1:]
            break
    for pattern in _patterns(cleaning.get("stoppers"), "stoppers"):
        match = pattern.search(text)
        if match:
            text = text[:text.rfind("\n", 0, match.start()) + 1]
            break
    for pattern in _patterns(cleaning.get("removers"), "removers"):
        text = pattern.sub("", text)
    return text


def clean_text(text: str, rules: dict[str, Any] | None = None) -> str:
    cleaning = cleaning_rules(rules)
    text = normalise_unicode(text)
    text = apply_source_rules(text, cleaning)
    text = normalise_bullets(text)
    if cleaning.get("remove_urls", True):
        text = remove_urls(text)
    if cleaning.get("remove_citations", True):
        text = remove_citations(text)
    text = remove_figure_residue(text)
    return tidy_whitespace(text)


def clean_document(doc: Document, rules: dict[str, Any] | None = None) -> "Document | Drop":
    cleaning = cleaning_rules(rules)
    text = clean_text(doc.text, cleaning)
    if not text.strip():
        return make_drop(doc, STAGE, "empty_after_clean")
    min_length = cleaning.get("min_length")
    if min_length and len(text) < int(min_length):
        return make_drop(doc, STAGE, "too_short_after_clean", f"{len(text)} < {min_length}", chars=len(text))
    return doc.replace(text=text, title=normalise_unicode(doc.title).strip())


def clean_fn(rules_by_source: dict[str, dict[str, Any]]):
    """Per-document stage function (`transforms.stage.StageChain`): each document cleaned with its own source's rules."""
    frozen = {name: cleaning_rules(rules) for name, rules in (rules_by_source or {}).items()}

    def clean(doc: Document) -> "Document | Drop":
        return clean_document(doc, frozen.get(doc.source, {}))

    return clean


# ---------------------------------------------------------------------------------------------------
# Statistical boilerplate: lines repeated across many documents of a source

BOILERPLATE_MIN_CHARS = 10


def line_key(line: str) -> str | None:
    """The comparable form of a line, or None when the line may never count as boilerplate
    (headings are structure, very short lines are too common to judge)."""
    norm = " ".join(line.split()).lower()
    if len(norm) < BOILERPLATE_MIN_CHARS or norm.startswith("#"):
        return None
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=8).hexdigest()


def document_line_keys(text: str) -> list[str]:
    """Distinct candidate line keys of one document, sorted (a document counts once per line)."""
    return sorted({key for key in map(line_key, text.split("\n")) if key is not None})


def is_boilerplate(count: int, docs_in_source: int, min_docs: int, min_fraction: float) -> bool:
    return count >= min_docs and count >= min_fraction * docs_in_source


def remove_lines(text: str, keys: frozenset[str] | set[str]) -> tuple[str, int]:
    kept, removed = [], 0
    for line in text.split("\n"):
        key = line_key(line)
        if key is not None and key in keys:
            removed += 1
            continue
        kept.append(line)
    return _BLANK_LINES.sub("\n\n", "\n".join(kept)).strip(), removed


def boilerplate_fn(keys_by_source: dict[str, list[str]]) -> Callable[[Document], "Document | Drop"]:
    """The per-document half of the boilerplate stage, for a known table of boilerplate line keys per
    source: remove them; a document left empty is dropped (`empty_after_boilerplate`)."""
    tables = {source: frozenset(keys) for source, keys in keys_by_source.items()}
    lines_removed = Metrics.counter("gap", f"{BOILERPLATE_STAGE}:lines_removed")
    docs_changed = Metrics.counter("gap", f"{BOILERPLATE_STAGE}:docs_changed")

    def remove(doc: Document) -> "Document | Drop":
        keys = tables.get(doc.source)
        if not keys:
            return doc
        text, removed = remove_lines(doc.text, keys)
        if removed:
            lines_removed.inc(removed)
            docs_changed.inc()
        if not text.strip():
            return make_drop(doc, BOILERPLATE_STAGE, "empty_after_boilerplate")
        return doc.replace(text=text) if removed else doc
    return remove


def boilerplate_table(docs_per_source, line_counts, min_docs: int, min_fraction: float):
    """(source, docs) and ((source, line key), docs) counts -> PCollection of (source, sorted keys) for
    the lines that are boilerplate. Each (source, key) count is judged alone against its source's
    total (a side input with one number per source); only the chosen keys are grouped per source,
    and there are at most (lines per document / min_fraction) of them per source."""
    totals = beam.pvalue.AsDict(docs_per_source)
    return (line_counts
            | "Boilerplate" >> beam.Filter(lambda kv, t: is_boilerplate(kv[1], t.get(kv[0][0], 0), min_docs,
                                                                          min_fraction), totals)
            | "BySource" >> beam.Map(lambda kv: kv[0])
            | "GroupBySource" >> beam.GroupByKey()
            | "Sorted" >> beam.MapTuple(lambda source, keys: (source, sorted(keys))))
