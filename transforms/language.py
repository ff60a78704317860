"""Language identification with langdetect, seeded and on a bounded sample of the text.

langdetect is a random-walk classifier: unseeded, the same text can get different answers in two
workers, and its cost grows with the text. So every worker fixes `DetectorFactory.seed`, and a
long document is judged on at most `max_windows` windows of `window_chars` characters taken from
evenly spaced places (start, middle, end...), which bounds the cost and still sees a paper whose
abstract is English but whose body is not (or the reverse).
"""
from __future__ import annotations

import dataclasses
import re
import threading
from typing import Any, Callable

from schemas.document import Document
from schemas.events import Drop
from transforms.stage import make_drop

STAGE = "language"
UNDETERMINED = "und"
_SPACE_RE = re.compile(r"\s+")
_LETTER_RE = re.compile(r"[^\W\d_]", re.UNICODE)
_init_lock = threading.Lock()
_factory_ready = False


@dataclasses.dataclass(frozen=True)
class LanguageSettings:
    """Config section `language`."""
    allowed: tuple[str, ...] = ("en",)
    min_prob: float = 0.8
    window_chars: int = 200
    max_windows: int = 5
    short_text_chars: int = 60
    allow_short: bool = False
    trials: int = 2  # langdetect's random walks per text (it defaults to 7); each costs about the same
    seed: int = 0

    @classmethod
    def from_config(cls, section: dict[str, Any], seed: int = 0) -> "LanguageSettings":
        names = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in section.items() if k in names}
        values["allowed"] = tuple(values.get("allowed", cls.allowed))
        values.setdefault("seed", seed)
        return cls(**values)


def as_settings(settings: "LanguageSettings | dict[str, Any]") -> LanguageSettings:
    """Accept the config section as a dict as well as the dataclass."""
    return settings if isinstance(settings, LanguageSettings) else LanguageSettings.from_config(settings)


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
    """At most `max_windows` windows of about `window_chars` characters, evenly spread over the
    text and cut at spaces; the whole (whitespace-collapsed) text when it is short enough.
    Only the windows are touched, so the cost does not grow with the document."""
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


def _fast_langdetect(sample: str, seed: int, trials: int = 7) -> tuple[str, float]:
    """Equal to `_langdetect(sample, seed, trials)`."""
    import random

    import numpy as np

    profiles = _get_profiles(seed)
    ngrams = _ngrams(_prepared_text(sample), profiles)
    if not ngrams:
        return UNDETERMINED, 0.0
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
    best = int(np.argmax(total))  # the first of equals, as langdetect's stable sort
    if total[best] <= _PROB_THRESHOLD:
        return UNDETERMINED, 0.0
    return profiles.langs[best], float(total[best])


def is_short_text(text: str, settings: LanguageSettings) -> bool:
    """Fewer than `short_text_chars` letters (looking at a bounded prefix only)."""
    head = text[: max(settings.short_text_chars * 8, settings.window_chars)]
    return len(_LETTER_RE.findall(head)) < settings.short_text_chars


def detect_language(text: str, settings: "LanguageSettings | dict[str, Any]") -> tuple[str, float]:
    """(language code, probability) of `text`; ('und', 0.0) when it has nothing to judge.

    Texts with fewer than `short_text_chars` letters are not judged at all ('und', 0.0): on a
    handful of words langdetect's answers are close to a coin toss.
    """
    settings = as_settings(settings)
    if is_short_text(text, settings):
        return UNDETERMINED, 0.0
    return _fast_langdetect(sample_windows(text, settings.window_chars, settings.max_windows), settings.seed,
                            settings.trials)


def detect_language_whole(text: str, seed: int = 0) -> tuple[str, float]:
    """langdetect on the whole text (the original pipeline's way; kept for the benchmark)."""
    return _langdetect(text, seed)


def language_decision(lang: str, prob: float, settings: LanguageSettings) -> str | None:
    """None to keep, else the drop reason (for a text that is not short)."""
    if lang == UNDETERMINED:
        return "low_confidence"
    if lang not in settings.allowed:
        return f"lang_{lang}"
    if prob < settings.min_prob:
        return "low_confidence"
    return None


def language_fn(settings: "LanguageSettings | dict[str, Any]") -> Callable[[Document], "Document | Drop"]:
    """Per-document stage: sets `lang`/`lang_score`, drops other languages, unsure and too-short texts."""
    settings = as_settings(settings)

    def apply(doc: Document) -> "Document | Drop":
        if is_short_text(doc.text, settings):
            if not settings.allow_short:
                return make_drop(doc, STAGE, "too_short")
            return doc.replace(lang=UNDETERMINED, lang_score=0.0)
        lang, prob = detect_language(doc.text, settings)
        reason = language_decision(lang, prob, settings)
        if reason is not None:
            return make_drop(doc, STAGE, reason, detail=f"{lang}:{prob:.3f}")
        return doc.replace(lang=lang, lang_score=round(prob, 6))

    apply.setup = lambda: _get_profiles(settings.seed)  # DocumentStage calls it in every worker
    return apply
