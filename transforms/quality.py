"""Document quality filters (Gopher-style heuristics, thresholds from config section `quality`).

`quality_reason(text, thresholds)` returns the name of the first failed check, or None. Each check
has one reason name, which becomes the counter `quality:<reason>`:

| key | reason |
|---|---|
| min_words / max_words | too_few_words / too_many_words |
| min_mean_word_length / max_mean_word_length | mean_word_too_short / mean_word_too_long |
| max_symbol_ratio | too_many_symbols (ellipses, stray '#', private-use and box glyphs per word) |
| max_digit_ratio | too_many_digits (digits / non-space characters) |
| max_bullet_line_ratio | too_many_bullet_lines |
| max_duplicate_line_fraction | duplicate_lines (lines repeating an earlier line / lines) |
| max_top_ngram_fraction | repeated_top_ngram (2/3/4-grams; Gopher's 0.20/0.18/0.16 scaled) |
| max_dup_ngram_fraction | duplicate_ngrams (5..10-grams; threshold - 0.01 per extra word) |
| min_alpha_word_fraction | too_few_alpha_words |
| min_long_lines (+ long_line_words) | too_few_long_lines (lines with at least that many words) |

A key that is absent or null disables its check. Markdown structure produced by extraction
(`#` heading markers, `- ` list items) is not counted as symbols.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any, Callable

from schemas.document import Document
from schemas.events import Drop

STAGE = "quality"
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


def prose_for_repetition(text: str) -> str:
    return _REPEATING_BY_DESIGN.sub(" ", text)


def quality_reason(text: str, thresholds: dict[str, Any]) -> str | None:
    """Name of the first failed check, or None when the text passes them all."""
    t = {k: v for k, v in thresholds.items() if v is not None}
    words = text.split()
    n_words = len(words)
    if "min_words" in t and n_words < t["min_words"]:
        return "too_few_words"
    if "max_words" in t and n_words > t["max_words"]:
        return "too_many_words"
    if n_words == 0:
        return "too_few_words"
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
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    prose = prose_for_repetition(text)
    prose_lines = [line.strip() for line in prose.splitlines() if line.strip()] if prose is not text else lines
    if "max_bullet_line_ratio" in t and lines:
        bullets = sum(1 for line in lines if _BULLET_LINE.match(line))
        if bullets / len(lines) > t["max_bullet_line_ratio"]:
            return "too_many_bullet_lines"
    if "max_duplicate_line_fraction" in t and prose_lines:
        seen: set[str] = set()
        repeats = 0
        for line in prose_lines:
            if line in seen:
                repeats += 1
            seen.add(line)
        if repeats / len(prose_lines) > t["max_duplicate_line_fraction"]:
            return "duplicate_lines"
    lowered = [w.lower() for w in filter(_ALNUM.search, prose.split() if prose is not text else words)]
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
    if t.get("min_long_lines"):
        needed_words = int(t.get("long_line_words", 8))
        long_lines = sum(1 for line in lines if len(line.split()) >= needed_words)
        if long_lines < t["min_long_lines"]:
            return "too_few_long_lines"
    return None


def quality_fn(thresholds: dict[str, Any]) -> Callable[[Document], "Document | Drop"]:
    """The per-document function for `DocumentStage("quality", quality_fn(config["quality"]))`."""
    frozen = dict(thresholds)

    def check(doc: Document) -> "Document | Drop":
        reason = quality_reason(doc.text, frozen)
        if reason is None:
            return doc
        return Drop(doc_id=doc.id, source=doc.source, subset=doc.subset, stage=STAGE, reason=reason,
                    chars=len(doc.text))

    return check
