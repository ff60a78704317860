"""The settings each stage receives: one `Section` per config section, every key declared once (type, range,
doc). gap_pipeline/config.py composes them into `CorpusConfig`; a stage takes its own section object
(`quality_fn(cfg.quality)`, `language_fn(cfg.language)`), or one property of it derives the plain
dataclass an older stage takes (`cfg.extract.options`, `cfg.dedup.minhash`).

Sections whose values come from gap_pipeline/default.yaml declare no defaults; one that tests and tools
also build by hand (`LanguageSettings(min_share=0.3)`) carries defaults equal to default.yaml
(tests/transforms/test_settings.py checks they agree). Only pydantic: importing this pulls in no
Beam and no extractor.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

from pydantic import Field

from schemas.settings import F, Fraction, Section, Subset


class ExtractSettings(Section):
    """Config section `extract`; `options` gives the extractors their ExtractOptions."""
    citations: Literal["tag", "remove"] = F(doc="[BIB_REF] tags around citations, or remove them")
    tables: Literal["linearize", "caption", "drop"] = F(doc="how tables become text")
    max_content_bytes: int = F(gt=0, doc="larger raw records are quarantined")
    max_decompressed_bytes: int = F(gt=0, doc="gzip content may expand to at most this many bytes")
    pdf_max_pages: int = F(gt=0, doc="pages read per PDF")
    pdf_timeout_s: float = F(gt=0, doc="hard limit in seconds per PDF")
    pdf_isolation: Literal["process", "inline"] = F(doc="run pdfminer in a killable child process or inline")
    pdf_max_text_chars: int = F(gt=0, doc="characters kept per PDF")

    @property
    def options(self):
        """The extractors' options (a plain dataclass: tests build it with edge values, e.g. a 0 s timeout)."""
        from transforms.extract.options import ExtractOptions
        return ExtractOptions(citations=self.citations, tables=self.tables, max_content_bytes=self.max_content_bytes,
                              max_decompressed_bytes=self.max_decompressed_bytes, pdf_max_pages=self.pdf_max_pages,
                              pdf_timeout_s=self.pdf_timeout_s, pdf_isolation=self.pdf_isolation,
                              pdf_max_text_chars=self.pdf_max_text_chars)


class CleanSettings(Section):
    """Config section `clean`."""
    boilerplate_min_docs: int = F(ge=1, doc="a line in at least this many documents of a source...")
    boilerplate_min_fraction: float = F(gt=0.0, le=1.0, doc="...and in this fraction of them is boilerplate")
    remove_urls: bool = F(doc="strip bare URLs from the text")


class QualitySettings(Section):
    """Config section `quality`: corpus-wide thresholds, then per-subset overrides."""
    min_words: int = F(ge=0, doc="fewer words: dropped as too_short")
    max_words: int = F(ge=1, doc="more words: dropped as too_long")
    min_mean_word_length: float = F(ge=0.0, doc="mean word length below this: dropped")
    max_mean_word_length: float = F(gt=0.0, doc="mean word length above this: dropped")
    max_symbol_ratio: Fraction = F(doc="symbols (#, ...) per word")
    max_digit_ratio: Fraction = F(doc="digits per character")
    max_garbled_ratio: Fraction = F(doc="mojibake sequences, U+FFFD and control characters per word")
    min_prose_words: int = F(ge=0, doc="words in running prose (sentences)")
    max_bullet_line_ratio: Fraction = F(doc="lines starting with a bullet")
    max_duplicate_line_fraction: Fraction = F(doc="duplicated lines")
    max_top_ngram_fraction: Fraction = F(doc="Gopher: top 2/3/4-gram character fraction")
    max_dup_ngram_fraction: Fraction = F(doc="Gopher: duplicated 5..10-gram character fraction")
    min_alpha_word_fraction: Fraction = F(doc="words holding a letter")
    subsets: dict[Subset, Optional[dict[str, Any]]] = F(
        doc="per subset, any of the thresholds above (null disables a check for that subset)")


class DedupSettings(Section):
    """Config section `dedup`; `minhash` gives near-dedup its MinHashParams."""
    exact: bool = F(doc="drop exact duplicates (normalised text hash)")
    near: bool = F(doc="drop near duplicates (MinHash LSH)")
    shingle_size: int = F(ge=1, doc="words per shingle")
    num_perm: int = F(ge=1, doc="MinHash permutations")
    bands: int = F(ge=1, doc="LSH bands (bands x rows <= num_perm)")
    rows: int = F(ge=1, doc="rows per LSH band")
    threshold: float = F(gt=0.0, le=1.0, doc="shingle Jaccard at which a candidate is a duplicate")
    verify_hashes: int = F(ge=0, doc="shingle hashes kept per document to check pairs (0: signature estimate)")
    hash_seed: int = F(ge=0, doc="seed of the MinHash permutations")
    subset_priority: dict[Subset, Annotated[int, Field(ge=0)]] = F(doc="survivor order among duplicates: lower rank wins")

    @property
    def minhash(self):
        """The near-dedup parameters of this section (MinHashParams is a plain dataclass: numpy code and
        tests build it without a config)."""
        from transforms.dedup.minhash import MinHashParams
        return MinHashParams(num_perm=self.num_perm, bands=self.bands, rows=self.rows, threshold=self.threshold,
                             shingle_size=self.shingle_size, hash_seed=self.hash_seed,
                             verify_hashes=self.verify_hashes)


class LanguageSettings(Section):
    """Config section `language`."""
    allowed: list[str] = F(["en"], min_length=1, doc="language codes kept")
    min_prob: Fraction = F(0.8, doc="per window: a lower langdetect probability counts as 'und'")
    min_share: float = F(0.5, gt=0.0, le=1.0, doc="share of letters in allowed languages needed to keep a document")
    min_common_words: Fraction = F(0.05, doc="per Latin/Cyrillic window: share of that language's common words needed")
    window_chars: int = F(200, ge=1, doc="characters per judged window")
    max_windows: int = F(20, ge=1, doc="windows judged per document")
    trials: int = F(2, ge=1, doc="random walks per window (langdetect's default is 7; each costs about the same)")
    short_text_chars: int = F(60, ge=0, doc="fewer letters: too short to judge")
    allow_short: bool = F(False, doc="keep too-short texts as 'und' instead of dropping them")
    # Not a key of the section: CorpusConfig sets it to the corpus's top-level `seed`; never dumped or hashed.
    seed: int = Field(0, ge=0, exclude=True, description="seed of langdetect (the corpus seed)")


class DecontaminationSettings(Section):
    """Config section `decontamination`."""
    benchmarks: list[str] = F(doc="JSONL files of benchmark questions")
    ngram: int = F(ge=1, doc="words per n-gram matched against the benchmarks")


class TokenizerSettings(Section):
    """Config section `tokenizer`."""
    model: Optional[str] = F(min_length=1, doc="a sentencepiece .model or Hugging Face tokenizer.json to use; null: train one")
    bos_token: Optional[str] = F(min_length=1, doc="BOS token of a tokenizer.json (null: from its template or well-known names)")
    eos_token: Optional[str] = F(min_length=1, doc="EOS token of a tokenizer.json (null: from its template or well-known names)")
    vocab_size: int = F(ge=64, doc="pieces (>= 300 with byte_fallback)")
    model_type: Literal["bpe", "unigram"] = F(doc="sentencepiece model type")
    character_coverage: float = F(gt=0.0, le=1.0, doc="share of characters covered by pieces")
    byte_fallback: bool = F(doc="unknown characters as byte pieces")
    max_sentence_length: int = F(ge=256, doc="longest training line in bytes")
    train_max_chars: int = F(ge=1, doc="characters sampled to train the tokenizer")
