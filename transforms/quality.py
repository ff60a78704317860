"""Document quality filters (Gopher-style heuristics, thresholds from config section `quality`).

`quality_reason(text, thresholds)` returns the name of the first failed check, or None. Each check
has one reason name, which becomes the counter `quality:<reason>`:

| key | reason |
|---|---|
| min_words / max_words | too_few_words / too_many_words |
| max_garbled_ratio | garbled_text (mojibake sequences per ftfy, U+FFFD, control characters per word; or text
  made mostly of Latin-1 accented letters: another single-byte codec read as cp1252) |
| min_mean_word_length / max_mean_word_length | mean_word_too_short / mean_word_too_long |
| max_symbol_ratio | too_many_symbols (ellipses, stray '#', private-use and box glyphs per word) |
| max_digit_ratio | too_many_digits (digits / non-space characters) |
| max_bullet_line_ratio | too_many_bullet_lines |
| max_duplicate_line_fraction | duplicate_lines (prose lines repeating an earlier one / prose lines) |
| max_top_ngram_fraction | repeated_top_ngram (2/3/4-grams of the prose; Gopher's 0.20/0.18/0.16 scaled) |
| max_dup_ngram_fraction | duplicate_ngrams (5..10-grams of the prose; threshold - 0.01 per extra word) |
| min_alpha_word_fraction | too_few_alpha_words |
| min_prose_words | too_little_prose (words in running prose: menus, link lists, error pages have ~none) |
| min_long_lines (+ long_line_words) | too_few_long_lines (lines with at least that many words) |

A key that is absent or null disables its check. Markdown structure produced by extraction
(`#` heading markers, `- ` list items) is not counted as symbols. The repetition checks look at the
prose only (`prose_for_repetition`): headings, list items, table rows and field labels repeat by design
in curated text. Thresholds differ per subset and per source: `thresholds_for(section, subset, spec
overrides)`; `quality_fn` resolves them per document.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any, Callable

from schemas import stages
from schemas.document import Document
from schemas.events import Drop, make_drop
from transforms.settings import QualitySettings

STAGE = stages.QUALITY
_HEADING_MARK = re.compile(r"^#{1,6} ", re.MULTILINE)
_BULLET_LINE = re.compile(r"^\s*(?:[-*•●▪◦‣∙]|\d{1,3}[.)])\s")
_ALPHA = re.compile(r"[^\W\d_]")


_ALNUM = re.compile(r"[^\W_]")  # a character for which str.isalnum() is true
_ABOVE_2000 = re.compile("[\u2001-\U0010ffff]")  # only these can be private-use/symbol/box glyphs


def _symbol_count(text: str) -> int:
    body = _HEADING_MARK.sub("", text)
    count = body.count("#") + body.count("...") + body.count("\u2026")
    for ch in _ABOVE_2000.findall(body):
        category = unicodedata.category(ch)
        if category in ("Co", "So", "Cn") or "\u2500" <= ch <= "\u25ff":
            count += 1
    return count


def _ngrams(words: list[str], n: int):
    """The n-grams of `words` in order, as tuples (zip of shifted lists: no per-gram slicing)."""
    return zip(*(words[i:] for i in range(n)))


def _ngram_top_fraction(words: list[str], n: int, total_chars: int) -> float:
    if len(words) < n or total_chars == 0:
        return 0.0
    counts = Counter(_ngrams(words, n))
    gram, occurrences = counts.most_common(1)[0]
    if occurrences < 2:
        return 0.0
    return occurrences * sum(len(w) for w in gram) / total_chars


def _covered_chars(words: list[str], starts: list[int], n: int) -> int:
    covered = [False] * len(words)
    for i in starts:
        covered[i:i + n] = [True] * n
    return sum(len(w) for w, c in zip(words, covered) if c)


def _ngram_dup_fraction(words: list[str], n: int, total_chars: int) -> float:
    """Characters of words covered by n-grams that occur more than once (Gopher)."""
    if len(words) < n or total_chars == 0:
        return 0.0
    grams = list(_ngrams(words, n))
    counts = Counter(grams)
    return _covered_chars(words, [i for i, gram in enumerate(grams) if counts[gram] > 1], n) / total_chars


def _ngram_dup_fractions(words: list[str], ns: range, total_chars: int):
    """`_ngram_dup_fraction(words, n, total_chars)` for each n of consecutive `ns`, lazily, in order.

    An (n+1)-gram at i can repeat only if the n-grams at i and i+1 both repeat (every occurrence of a
    repeated (n+1)-gram starts a repeated n-gram and is followed by one), so after the first n only those
    candidate positions are counted: the same fractions, without re-counting every n-gram of the text.
    """
    if len(words) < ns[0] or total_chars == 0:
        yield from (0.0 for _ in ns)
        return
    n = ns[0]
    grams = list(_ngrams(words, n))
    counts = Counter(grams)
    starts = [i for i, gram in enumerate(grams) if counts[gram] > 1]
    yield _covered_chars(words, starts, n) / total_chars
    for n in ns[1:]:
        if len(words) < n:
            yield 0.0
            continue
        repeated = set(starts)
        candidates = [i for i in starts if i + 1 in repeated and i + n <= len(words)]
        grams = {i: tuple(words[i:i + n]) for i in candidates}
        counts = Counter(grams.values())
        starts = [i for i in candidates if counts[grams[i]] > 1]
        yield _covered_chars(words, starts, n) / total_chars if starts else 0.0


# Spans that repeat by design in structured papers: a cited reference is spelled out at every citation
# (MEDITRON's "[BIB_REF] title, first author [/BIB_REF]"), figure references recur and table cells
# repeat ("n (%)"). Repetition checks look at the prose around them, so a well-cited paper is not
# mistaken for spam.
_REPEATING_BY_DESIGN = re.compile(r"\[(BIB_REF|FIG_REF|TABLE)\].*?\[/\1\]", re.S)
# Structure lines as extraction writes them: headings, list items, linearised table rows ("a | b | c").
_HEADING_LINE = re.compile(r"^#{1,6}\s")
_LIST_LINE = re.compile(r"^(?:[-*+•●▪◦‣∙]|\d{1,3}[.)]|[a-zA-Z][.)]|\(\w{1,3}\))\s")
# A field label: up to six words opening with a capital and closed by a colon ("Strength of
# Recommendation:", "Quality of Evidence:", "Key Question 3:"). Labels open a line, or recur inline.
_LABEL = r"[A-Z][\w'’/&-]*(?: [\w'’/&()-]+){0,5}:(?=\s|$)"
_LINE_LABEL = re.compile(r"^" + _LABEL)
_INLINE_LABEL = re.compile(r"(?:(?<=^)|(?<=[\s(\[;]))" + _LABEL)
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
PROSE_LINE_WORDS = 8   # a line without sentence punctuation is prose from this many words on


def prose_for_repetition(text: str) -> str:
    """The prose of `text`, one paragraph a line, for the repetition checks.

    Curated text repeats by design in its structure: list items ("- Offer X"), table rows, headings,
    and field labels ("Strength of Recommendation: A" after every recommendation). Gopher's repetition
    thresholds were tuned on web spam, where repetition means copy-paste; measured on the structure of a
    guideline synthesis they drop good documents. So they are measured on prose only: lines that are
    not headings, list items or table rows, with field labels removed, that read as sentences (end in
    sentence punctuation with >= 3 words, or have >= PROSE_LINE_WORDS words).
    """
    text = _REPEATING_BY_DESIGN.sub(" ", text)
    labels = Counter(m.group(0) for m in _INLINE_LABEL.finditer(text))
    recurring = {label for label, count in labels.items() if count > 1}
    prose = []
    for line in text.split("\n"):
        line = line.strip()
        if not line or _HEADING_LINE.match(line) or _LIST_LINE.match(line) or " | " in line or line.startswith("|"):
            continue
        line = _LINE_LABEL.sub("", line).strip()
        if recurring:
            line = _INLINE_LABEL.sub(lambda m: "" if m.group(0) in recurring else m.group(0), line).strip()
        n_words = len(line.split())
        if n_words >= PROSE_LINE_WORDS or (n_words >= 3 and _SENTENCE_END.search(line)):
            prose.append(line)
    return "\n".join(prose)


def garbled_count(text: str) -> int:
    """Signs of text decoded with the wrong codec that extraction could not repair: ftfy's count of
    mojibake sequences ("â€™", "Ã©", cp1251 read as cp1252), U+FFFD replacement characters (bytes no
    decoder accepted) and C0/C1 control characters other than tab and newline."""
    from ftfy.badness import badness  # imported here: only the quality stage needs it

    count = len(_CONTROL.findall(text))
    if text.isascii():
        return count
    # ftfy's patterns all hold a non-ASCII character: only the non-ASCII runs with three characters of
    # context are scored (scoring whole texts cost ~1 s per MB; this gives the same counts on realdata).
    windows = "\n".join(text[max(0, m.start() - 3):m.end() + 3] for m in _NON_ASCII_RUNS.finditer(text))
    return count + text.count("\ufffd") + badness(windows)


# Non-ASCII runs, merged when fewer than 7 ASCII characters apart so that their windows never overlap.
_NON_ASCII_RUNS = re.compile(r"[^\x00-\x7f]+(?:[\x00-\x7f]{1,6}[^\x00-\x7f]+)*")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LATIN1_LETTER = re.compile("[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff]")
# Text in another single-byte codec read as cp1252 (cp1251 Cyrillic: "Ñöðååíèíã") is made of Latin-1
# accented letters, which ftfy cannot tell from real Latin-1 text word by word. Real text in any Latin-script
# language has far fewer of them (French ~4% of letters), so above this share the document is mis-decoded.
LATIN1_MOJIBAKE_SHARE = 0.3


def latin1_letter_share(text: str) -> float:
    """Latin-1 accented letters / letters. Counting letters is the costly part, so a text whose accented
    letters are under a sixth of LATIN1_MOJIBAKE_SHARE of its characters is answered without it (0.0): only a
    text less than a sixth letters could still cross the share, and the word checks drop such text anyway."""
    accented = len(_LATIN1_LETTER.findall(text))
    if accented * 6 < LATIN1_MOJIBAKE_SHARE * len(text):
        return 0.0
    letters = sum(map(str.isalpha, text))
    return accented / letters if letters else 0.0

# Every threshold a `quality` mapping may hold (config section, per-subset overrides, spec section).
THRESHOLD_KEYS = ("min_words", "max_words", "min_mean_word_length", "max_mean_word_length", "max_symbol_ratio",
                  "max_digit_ratio", "max_bullet_line_ratio", "max_garbled_ratio", "max_duplicate_line_fraction",
                  "max_top_ngram_fraction", "max_dup_ngram_fraction", "min_alpha_word_fraction",
                  "min_prose_words", "min_long_lines", "long_line_words")
# Thresholds that are fractions in [0, 1]; the others are counts or lengths (>= 0).
FRACTION_KEYS = ("max_symbol_ratio", "max_digit_ratio", "max_bullet_line_ratio", "max_garbled_ratio",
                 "max_duplicate_line_fraction", "max_top_ngram_fraction", "max_dup_ngram_fraction",
                 "min_alpha_word_fraction")


COUNT_KEYS = ("min_words", "max_words", "min_prose_words", "min_long_lines", "long_line_words")


def threshold_problem(key: str, value: Any) -> str | None:
    """Why `value` is not a valid setting for threshold `key` (None: valid; null disables the check)."""
    if key not in THRESHOLD_KEYS:
        return f"unknown quality threshold (known: {', '.join(THRESHOLD_KEYS)})"
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expected a number or null, got {value!r}"
    if key in COUNT_KEYS and (not float(value).is_integer() or value < 0):
        return f"expected a whole number >= 0, got {value!r}"
    if key in FRACTION_KEYS and not 0.0 <= value <= 1.0:
        return f"must be between 0 and 1, got {value!r}"
    if value < 0:
        return f"must be >= 0, got {value!r}"
    return None


def quality_reason(text: str, thresholds: dict[str, Any]) -> str | None:
    """Name of the first failed check, or None when the text passes them all."""
    t = {k: v for k, v in thresholds.items() if v is not None and k in THRESHOLD_KEYS}
    words = text.split()
    n_words = len(words)
    if "min_words" in t and n_words < t["min_words"]:
        return "too_few_words"
    if "max_words" in t and n_words > t["max_words"]:
        return "too_many_words"
    if n_words == 0:
        return "too_few_words"
    # First: mis-decoded text also fails the word and symbol checks, but this names the cause.
    if "max_garbled_ratio" in t and (garbled_count(text) / n_words > t["max_garbled_ratio"]
                                     or latin1_letter_share(text) > LATIN1_MOJIBAKE_SHARE):
        return "garbled_text"
    # Words for length statistics: tokens with a letter or digit (not bare "-", "|", "#").
    real = list(filter(_ALNUM.search, words))
    mean_len = sum(map(len, real)) / len(real) if real else 0.0
    if "min_mean_word_length" in t and mean_len < t["min_mean_word_length"]:
        return "mean_word_too_short"
    if "max_mean_word_length" in t and mean_len > t["max_mean_word_length"]:
        return "mean_word_too_long"
    if "max_symbol_ratio" in t and _symbol_count(text) / n_words > t["max_symbol_ratio"]:
        return "too_many_symbols"
    if "max_digit_ratio" in t:
        non_space = sum(map(len, words))
        digits = sum(map(str.isdigit, text))
        if non_space and digits / non_space > t["max_digit_ratio"]:
            return "too_many_digits"
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    if "max_bullet_line_ratio" in t and lines:
        bullets = sum(1 for line in lines if _BULLET_LINE.match(line))
        if bullets / len(lines) > t["max_bullet_line_ratio"]:
            return "too_many_bullet_lines"
    prose = prose_for_repetition(text)
    prose_words = prose.split()
    prose_lines = prose.split("\n") if prose else []
    if "max_duplicate_line_fraction" in t and prose_lines:
        seen: set[str] = set()
        repeats = 0
        for line in prose_lines:
            if line in seen:
                repeats += 1
            seen.add(line)
        if repeats / len(prose_lines) > t["max_duplicate_line_fraction"]:
            return "duplicate_lines"
    lowered = [w.lower() for w in filter(_ALNUM.search, prose_words)]
    total_chars = sum(map(len, lowered))
    if "max_top_ngram_fraction" in t:
        limit = t["max_top_ngram_fraction"]
        for n, scale in ((2, 1.0), (3, 0.9), (4, 0.8)):
            if _ngram_top_fraction(lowered, n, total_chars) > limit * scale:
                return "repeated_top_ngram"
    if "max_dup_ngram_fraction" in t:
        limit = t["max_dup_ngram_fraction"]
        ns = range(5, 11)
        for n, fraction in zip(ns, _ngram_dup_fractions(lowered, ns, total_chars)):
            if fraction > limit - 0.01 * (n - 5):
                return "duplicate_ngrams"
    if "min_alpha_word_fraction" in t:
        alpha = len(list(filter(_ALPHA.search, words)))
        if alpha / n_words < t["min_alpha_word_fraction"]:
            return "too_few_alpha_words"
    # Last: the checks above name a more specific fault of a page that also has little prose.
    if "min_prose_words" in t and len(prose_words) < t["min_prose_words"]:
        return "too_little_prose"
    if t.get("min_long_lines"):
        needed_words = int(t.get("long_line_words", 8))
        long_lines = sum(1 for line in lines if len(line.split()) >= needed_words)
        if long_lines < t["min_long_lines"]:
            return "too_few_long_lines"
    return None


def thresholds_for(section: "QualitySettings | dict[str, Any]", subset: str,
                   source_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The thresholds for one document: the section's own keys, then `section.subsets[subset]`, then
    the source spec's `quality` overrides (most specific wins; null disables a check). `section` is the
    config's `quality` section, or a mapping of only some thresholds (+ `subsets`), as a unit test gives."""
    values = section.to_dict() if isinstance(section, QualitySettings) else section
    merged = {k: v for k, v in values.items() if k in THRESHOLD_KEYS}
    merged.update((values.get("subsets") or {}).get(subset) or {})
    merged.update(source_overrides or {})
    return merged


def quality_fn(section: "QualitySettings | dict[str, Any]", source_overrides: dict[str, dict[str, Any]] | None = None
               ) -> Callable[[Document], "Document | Drop"]:
    """The per-document stage function (`(stages.QUALITY, quality_fn(...))`): `section` is the config's `quality`
    section (thresholds + `subsets` overrides), `source_overrides` each source spec's `quality` section."""
    overrides = {name: dict(values or {}) for name, values in (source_overrides or {}).items()}
    frozen: dict[tuple[str, str], dict[str, Any]] = {}

    def check(doc: Document) -> "Document | Drop":
        key = (doc.source, doc.subset)
        thresholds = frozen.get(key)
        if thresholds is None:
            thresholds = frozen[key] = thresholds_for(section, doc.subset, overrides.get(doc.source))
        reason = quality_reason(doc.text, thresholds)
        if reason is None:
            return doc
        return make_drop(doc, STAGE, reason)

    return check
