"""Language identification by share of text: which language holds most of a document's letters.

A document is cut into windows spread over the whole text (all of it when it is short, at most
`max_windows` evenly spaced windows of `window_chars` characters when it is long, so the cost stays
bounded), and every window votes for a language with its letter count as weight. Inside a window the
letters are first split by Unicode script: scripts that belong to one language (Greek, Hebrew, Thai,
Hangul, Georgian, Armenian and most Indic scripts) name it directly, letters of unlisted scripts are
"und"; Latin, Cyrillic, Arabic, Devanagari and CJK text goes to langdetect (seeded). A langdetect answer
counts only when it is written in that script, its probability reaches `min_prob` and, for Latin and
Cyrillic text, at least `min_common_words` of the words are common words of that language (stopwords-iso
lists); otherwise the letters are "und". This is what stops text in a language langdetect does not know
(Scottish Gaelic, Hmong, Pular, Basque...) from voting English, and a Chinese page with English
navigation from being called English: langdetect's single random walk over one sample let the
English n-grams win.

The shares are exact integer letter counts divided by the total, so they are the same in every worker;
langdetect itself is seeded per call (`DetectorFactory.seed`, and the fast path below reseeds its walk).
"""
from __future__ import annotations

import dataclasses
import math
import re
import threading
from collections import Counter
from typing import Callable

from schemas import stages
from schemas.document import Document
from schemas.events import Drop, make_drop
from transforms.settings import LanguageSettings

STAGE = stages.LANGUAGE
UNDETERMINED = "und"
_SPACE_RE = re.compile(r"\s+")
_LETTER_RE = re.compile(r"[^\W\d_]", re.UNICODE)
_init_lock = threading.Lock()
_factory_ready = False


def _ensure_factory(seed: int) -> None:
    """Load langdetect's profiles once per process and fix its seed (in every worker)."""
    global _factory_ready
    from langdetect import DetectorFactory, detector_factory

    with _init_lock:
        if not _factory_ready:
            detector_factory.init_factory()
            _factory_ready = True
        DetectorFactory.seed = seed


def sample_windows(text: str, window_chars: int, max_windows: int) -> str:
    """The pre-share detector's sample (kept for the benchmark's side-by-side): at most `max_windows`
    windows of about `window_chars` characters, evenly spread over the text, cut at spaces and joined
    into one text for a single langdetect call; the whole (whitespace-collapsed) text when short."""
    budget = window_chars * max_windows
    if len(text) <= budget * 2:
        collapsed = _SPACE_RE.sub(" ", text).strip()
        if len(collapsed) <= budget:
            return collapsed
    else:
        collapsed = text
    span = len(collapsed) - window_chars
    starts = [round(i * span / (max_windows - 1)) for i in range(max_windows)] if max_windows > 1 else [0]
    pieces = []
    for start in starts:
        if start > 0:  # begin at the next word boundary
            space = collapsed.find(" ", start, start + 40)
            start = space + 1 if space >= 0 else start
        end = start + window_chars
        space = collapsed.rfind(" ", end - 40, end)
        piece = _SPACE_RE.sub(" ", collapsed[start:space if space > start else end]).strip()
        if piece:
            pieces.append(piece)
    return " \n ".join(pieces)


def _word_start(text: str, pos: int) -> int:
    """`pos` moved forward to just after the next whitespace (within 40 characters), so a window
    does not begin inside a word."""
    if pos <= 0:
        return 0
    match = _SPACE_RE.search(text, pos, min(len(text), pos + 40))
    return match.end() if match else pos


def text_windows(text: str, window_chars: int, max_windows: int) -> list[str]:
    """Windows covering the whole text when it fits in `max_windows` windows of `window_chars`
    characters (cut at word boundaries), else `max_windows` windows of `window_chars` characters
    evenly spread from start to end. Only the windows are read, so the cost does not grow with the
    document."""
    n = len(text)
    if n == 0:
        return []
    if n <= window_chars * max_windows:
        count = math.ceil(n / window_chars)
        bounds = [0] + [_word_start(text, round(i * n / count)) for i in range(1, count)] + [n]
        return [text[a:b] for a, b in zip(bounds, bounds[1:]) if b > a]
    span = n - window_chars
    starts = [round(i * span / (max_windows - 1)) for i in range(max_windows)] if max_windows > 1 else [0]
    windows = []
    for start in starts:
        start = _word_start(text, start)
        end = min(n, start + window_chars)
        cut = text.rfind(" ", max(start, end - 40), end)
        windows.append(text[start:cut if cut > start and end < n else end])
    return windows


# --------------------------------------------------------------------------- scripts and common words
# Unicode scripts through the `regex` module's \p{Script} classes. One alternation: each match is a
# run of letters of one script, named by its group. Characters of no script (digits, punctuation,
# spaces, combining marks) belong to no run and weigh nothing.
_DETECTED = {  # scripts several langdetect languages share: langdetect decides, within this set
    "Latin": frozenset("af ca cs cy da de en es et fi fr hr hu id it lt lv nl no pl pt ro sk sl so sq sv sw tl "
                       "tr vi".split()),
    "Cyrillic": frozenset("bg mk ru uk".split()),
    "Arabic": frozenset("ar fa ur".split()),
    "Devanagari": frozenset("hi mr ne".split()),
    "CJK": frozenset(("zh-cn", "zh-tw", "ja")),  # kana decides ja, langdetect only zh-cn vs zh-tw
}
_NAMED = {  # scripts written by (mostly) one language: the script names it
    "Greek": "el", "Hebrew": "he", "Thai": "th", "Hangul": "ko", "Bengali": "bn", "Gurmukhi": "pa",
    "Gujarati": "gu", "Tamil": "ta", "Telugu": "te", "Kannada": "kn", "Malayalam": "ml", "Georgian": "ka",
    "Armenian": "hy",
}
_CHECK_WORDS = frozenset(("Latin", "Cyrillic"))  # space-separated scripts where unknown languages hide
_MIN_SEGMENT_LETTERS = 20  # fewer letters of a script in a window: too few to judge, "und"
_script_re = None
_kana_re = None
_WORD_RE = None
_common_words: dict[str, frozenset[str]] = {}


def _script_runs(window: str) -> list[tuple[str, int, int]]:
    """(script, start, end) of every run of letters of one script."""
    global _script_re, _kana_re
    if _script_re is None:
        import regex

        _kana_re = regex.compile(r"[\p{Hiragana}\p{Katakana}]")
        groups = [f"(?P<{name}>\\p{{{name}}}+)" for name in ("Latin", "Cyrillic", "Arabic", "Devanagari")]
        groups.append("(?P<CJK>[\\p{Han}\\p{Hiragana}\\p{Katakana}]+)")
        groups += [f"(?P<{name}>\\p{{{name}}}+)" for name in _NAMED]
        groups.append("(?P<Other>\\p{L}+)")
        _script_re = regex.compile("|".join(groups))
    return [(m.lastgroup, m.start(), m.end()) for m in _script_re.finditer(window)]


def _common_word_share(text: str, lang: str) -> float | None:
    """Fraction of the words of `text` that are common words (stopwords-iso, 3+ letters: the short
    ones, like "a", "an", "na", "is", are shared by too many languages) of `lang`; None when there
    is no list for it."""
    global _WORD_RE
    words = _common_words.get(lang)
    if words is None:
        import stopwordsiso

        code = lang.split("-")[0]
        words = frozenset(w for w in stopwordsiso.stopwords(code) if len(w) >= 3) if stopwordsiso.has_lang(code) \
            else frozenset()
        _common_words[lang] = words
    if not words:
        return None
    if _WORD_RE is None:
        import regex

        _WORD_RE = regex.compile(r"\p{L}+(?:['’]\p{L}+)*")
    tokens = [w.lower() for w in _WORD_RE.findall(text)]
    return sum(w in words for w in tokens) / len(tokens) if tokens else 0.0


def window_votes(window: str, settings: LanguageSettings) -> Counter:
    """Letters per language in one window (see the module docstring)."""
    runs = _script_runs(window)
    letters: Counter = Counter()
    for script, start, end in runs:
        letters[script] += end - start
    votes: Counter = Counter()
    for script, count in sorted(letters.items()):
        if script in _NAMED:
            votes[_NAMED[script]] += count
            continue
        if script not in _DETECTED or count < _MIN_SEGMENT_LETTERS:
            votes[UNDETERMINED] += count
            continue
        if len(letters) == 1:
            segment = window
        else:  # this script's letters only: another script's n-grams would pull the walk its way
            pieces, pos = [], 0
            for other, start, end in runs:
                if other != script:
                    pieces.append(window[pos:start] + " ")
                    pos = end
            segment = "".join(pieces) + window[pos:]
        if script == "CJK":  # kana marks Japanese; Han alone is Chinese
            kana = len(_kana_re.findall(window)) if _kana_re else 0
            votes["ja" if kana * 10 >= count else _chinese_variant(segment, settings.seed, settings.trials)] += count
            continue
        lang, prob = _fast_langdetect(segment, settings.seed, settings.trials)
        if lang not in _DETECTED[script] or prob < settings.min_prob:
            lang = UNDETERMINED
        elif script in _CHECK_WORDS:
            share = _common_word_share(segment, lang)
            if share is not None and share < settings.min_common_words:
                lang = UNDETERMINED
        votes[lang] += count
    return votes


def letter_counts(text: str, settings: LanguageSettings, whole: bool = False) -> Counter:
    """Letters per language over the document's windows (`whole`: windows over all of the text,
    however long)."""
    max_windows = max(1, math.ceil(len(text) / settings.window_chars)) if whole else settings.max_windows
    total: Counter = Counter()
    for window in text_windows(text, settings.window_chars, max_windows):
        total.update(window_votes(window, settings))
    return total


def rounded_shares(counts: Counter) -> dict[str, float]:
    """{language: share of letters}, largest first (ties by code), rounded to 3 decimals; shares that
    round to 0 are left out."""
    total = sum(counts.values())
    if not total:
        return {}
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return {lang: round(n / total, 3) for lang, n in ranked if round(n / total, 3) > 0}


@dataclasses.dataclass(frozen=True)
class LanguageDecision:
    lang: str                  # the allowed language holding most letters (kept), else the top language
    share: float               # its share of the letters
    shares: dict[str, float]   # rounded, largest first
    reason: str | None         # None: keep; else the drop reason

    def detail(self) -> str:
        return " ".join(f"{lang}:{share:.3f}" for lang, share in self.shares.items())


def decide(counts: Counter, settings: LanguageSettings) -> LanguageDecision:
    """Keep when the allowed languages hold at least `min_share` of the letters. Otherwise the reason
    is `mixed` when some of the text is in an allowed language, `lang_<top>` when none is (`lang_und`:
    a language or script the detector does not know)."""
    total = sum(counts.values())
    shares = rounded_shares(counts)
    if not total:
        return LanguageDecision(UNDETERMINED, 0.0, {}, f"lang_{UNDETERMINED}")
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    allowed = [(lang, n) for lang, n in ranked if lang in settings.allowed]
    target = sum(n for _, n in allowed)
    if allowed and target / total >= settings.min_share:
        return LanguageDecision(allowed[0][0], round(allowed[0][1] / total, 6), shares, None)
    top, n = ranked[0]
    return LanguageDecision(top, round(n / total, 6), shares, "mixed" if target else f"lang_{top}")


def _langdetect(sample: str, seed: int, trials: int = 7) -> tuple[str, float]:
    """langdetect itself (a fresh `Detector`): the whole-document baseline and the reference the
    fast path below is tested against."""
    from langdetect import detector_factory
    from langdetect.lang_detect_exception import LangDetectException

    _ensure_factory(seed)
    detector = detector_factory._factory.create()
    detector.n_trial = trials
    detector.append(sample)
    try:
        best = detector.get_probabilities()[0]
    except (LangDetectException, IndexError):
        return UNDETERMINED, 0.0
    return best.lang, float(best.prob)


# --------------------------------------------------------------------------- fast, equal path
# langdetect spends its time in per-character Python (normalising each character through a binary
# search of Unicode blocks, n-gram buffers) and in a random walk that multiplies 55 Python floats per
# step. `_fast_langdetect` does the same arithmetic in the same order (same n-grams, same random
# stream, element-wise numpy products equal to the Python ones, Python's left-to-right `sum`), so it
# returns exactly what `_langdetect` returns (tests check it) at a fraction of the cost.
_URL_RE = re.compile(r"https?://[-_.?&~;+=/#0-9A-Za-z]{1,2076}")
_MAIL_RE = re.compile(r"[-_.0-9A-Za-z]{1,64}@[-_0-9A-Za-z]{1,255}[-_.0-9A-Za-z]{1,255}")
_SPACES_RE = re.compile(" {2,}")
_MAX_TEXT = 10000      # langdetect's Detector.max_text_length
_ALPHA, _ALPHA_WIDTH, _BASE_FREQ = 0.5, 0.05, 10000
_ITERATION_LIMIT, _CONV_THRESHOLD, _PROB_THRESHOLD = 1000, 0.99999, 0.1


class _NormalisedChars(dict):
    """ord(char) -> langdetect's `NGram.normalize(char)`, filled on first sight (for str.translate)."""

    def __missing__(self, code: int) -> str:
        from langdetect.utils.ngram import NGram

        value = self[code] = NGram.normalize(chr(code))
        return value


class _Profiles:
    """The loaded profiles (once per process) and their per-n-gram vectors as numpy rows."""

    def __init__(self) -> None:
        from langdetect import detector_factory

        factory = detector_factory._factory
        self.langs = list(factory.langlist)
        self.known = factory.word_lang_prob_map  # n-gram -> 55 probabilities (langdetect's own map)
        self.vectors: dict[str, "np.ndarray"] = {}  # bounded by the profiles' vocabulary (~88k n-grams)
        self.chars = _NormalisedChars()

    def vector(self, gram: str):
        row = self.vectors.get(gram)
        if row is None:
            import numpy as np

            row = self.vectors[gram] = np.array(self.known[gram], dtype=np.float64)
        return row


_profiles: "_Profiles | None" = None


def _get_profiles(seed: int) -> _Profiles:
    global _profiles
    _ensure_factory(seed)
    if _profiles is None:
        with _init_lock:
            if _profiles is None:
                _profiles = _Profiles()
    return _profiles


def _prepared_text(text: str) -> str:
    """Detector.append + cleaning_text: URLs/e-mails out, Vietnamese marks joined, first 10,000
    characters, runs of spaces collapsed; Latin letters removed from mostly non-Latin text."""
    from langdetect.utils.ngram import NGram
    from langdetect.utils.unicode_block import unicode_block

    text = NGram.normalize_vi(_MAIL_RE.sub(" ", _URL_RE.sub(" ", text)))
    text = _SPACES_RE.sub(" ", text[:_MAX_TEXT])
    latin = non_latin = 0
    for ch in text:
        if "A" <= ch <= "z":
            latin += 1
        elif ch >= "\u0300" and unicode_block(ch) != "Latin Extended Additional":
            non_latin += 1
    if latin * 2 < non_latin:
        text = "".join(ch for ch in text if ch < "A" or "z" < ch)
    return text


def _ngrams(text: str, profiles: _Profiles) -> list[str]:
    """Detector._extract_ngrams: the 1-3-grams of the normalised text that the profiles know,
    skipping words in capitals."""
    known = profiles.known
    result: list[str] = []
    grams, capital = " ", False
    for ch in text.translate(profiles.chars):
        last = grams[-1]
        if last == " ":
            grams, capital = " ", False
            if ch == " ":
                continue
        elif len(grams) >= 3:
            grams = grams[1:]
        grams += ch
        if ch.isupper():
            if last.isupper():
                capital = True
        else:
            capital = False
        if capital:
            continue
        if ch != " " and ch in known:
            result.append(ch)
        size = len(grams)
        if size >= 2:
            if grams[-2:] in known:
                result.append(grams[-2:])
            if size == 3 and grams in known:
                result.append(grams)
    return result


def _walk(sample: str, seed: int, trials: int):
    """langdetect's averaged random walks over the n-grams of `sample`: (languages, probabilities), or
    None when the text has no n-gram langdetect knows."""
    import random

    import numpy as np

    profiles = _get_profiles(seed)
    ngrams = _ngrams(_prepared_text(sample), profiles)
    if not ngrams:
        return None
    size = len(profiles.langs)
    walk = random.Random()
    walk.seed(seed)
    total = np.zeros(size, dtype=np.float64)
    for _ in range(trials):
        prob = np.full(size, 1.0 / size, dtype=np.float64)
        weight = (_ALPHA + walk.gauss(0.0, 1.0) * _ALPHA_WIDTH) / _BASE_FREQ
        i = 0
        while True:
            prob *= weight + profiles.vector(walk.choice(ngrams))
            if i % 5 == 0:
                prob /= sum(prob.tolist())  # Python's left-to-right sum, as langdetect
                if prob.max() > _CONV_THRESHOLD or i >= _ITERATION_LIMIT:
                    break
            i += 1
        total += prob / trials
    return profiles.langs, total


def _fast_langdetect(sample: str, seed: int, trials: int = 7) -> tuple[str, float]:
    """Equal to `_langdetect(sample, seed, trials)`."""
    import numpy as np

    walked = _walk(sample, seed, trials)
    if walked is None:
        return UNDETERMINED, 0.0
    langs, total = walked
    best = int(np.argmax(total))  # the first of equals, as langdetect's stable sort
    if total[best] <= _PROB_THRESHOLD:
        return UNDETERMINED, 0.0
    return langs[best], float(total[best])


def _chinese_variant(segment: str, seed: int, trials: int) -> str:
    """zh-cn or zh-tw for Han text without kana, whichever langdetect's walks favour. Only the two
    are compared: langdetect's Korean profile also knows Han characters and sometimes wins a walk on
    plain Chinese, and two walks that split between simplified and traditional are still Chinese."""
    walked = _walk(segment, seed, trials)
    if walked is None:
        return "zh-cn"
    langs, total = walked
    return "zh-tw" if total[langs.index("zh-tw")] > total[langs.index("zh-cn")] else "zh-cn"


def is_short_text(text: str, settings: LanguageSettings) -> bool:
    """Fewer than `short_text_chars` letters (looking at a bounded prefix only)."""
    head = text[: max(settings.short_text_chars * 8, settings.window_chars)]
    return len(_LETTER_RE.findall(head)) < settings.short_text_chars


def judge(text: str, settings: LanguageSettings, whole: bool = False) -> LanguageDecision:
    """The stage's decision for `text` (`too_short` below `short_text_chars` letters: on a handful of
    words langdetect's answers are close to a coin toss)."""
    if is_short_text(text, settings):
        return LanguageDecision(UNDETERMINED, 0.0, {}, "too_short")
    return decide(letter_counts(text, settings, whole=whole), settings)


def detect_language(text: str, settings: LanguageSettings, whole: bool = False
                    ) -> tuple[str, float]:
    """(language holding most letters, its share); ('und', 0.0) for a text too short to judge."""
    if is_short_text(text, settings):
        return UNDETERMINED, 0.0
    counts = letter_counts(text, settings, whole=whole)
    total = sum(counts.values())
    if not total:
        return UNDETERMINED, 0.0
    lang, n = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return lang, n / total


def detect_language_sampled(text: str, settings: LanguageSettings) -> tuple[str, float]:
    """The pre-share detector (one langdetect walk over 5 joined windows of 200 characters), for the
    benchmark's side-by-side only."""
    if is_short_text(text, settings):
        return UNDETERMINED, 0.0
    return _fast_langdetect(sample_windows(text, 200, 5), settings.seed, settings.trials)


def detect_language_whole(text: str, seed: int = 0) -> tuple[str, float]:
    """langdetect on the whole text (the original pipeline's way; kept for the benchmark)."""
    return _langdetect(text, seed)


def language_fn(settings: LanguageSettings) -> Callable[[Document], "Document | Drop"]:
    """Per-document stage: sets `lang`/`lang_score` (the share of its letters) and `meta.lang_shares`;
    drops documents mostly in other languages (`lang_xx`), with too little text in an allowed language
    (`mixed`) and too-short texts."""

    def apply(doc: Document) -> "Document | Drop":
        if is_short_text(doc.text, settings):
            if not settings.allow_short:
                return make_drop(doc, STAGE, "too_short")
            return doc.replace(lang=UNDETERMINED, lang_score=0.0)
        decision = decide(letter_counts(doc.text, settings), settings)
        if decision.reason is not None:
            return make_drop(doc, STAGE, decision.reason, detail=decision.detail())
        return doc.with_meta(lang_shares=decision.shares).replace(lang=decision.lang, lang_score=decision.share)

    apply.setup = lambda: _get_profiles(settings.seed)  # StageChain.setup calls it in every worker
    return apply
