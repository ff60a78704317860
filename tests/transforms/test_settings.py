"""transforms/settings.py: each stage receives its own section of the validated corpus config."""
from __future__ import annotations

import pytest

from gap_pipeline.config import default_config, load_config, validate_config
from schemas.document import Document
from schemas.events import Drop
from schemas.settings import SettingsError
from transforms.extract.options import ExtractOptions
from transforms.settings import (DedupSettings, ExtractSettings, LanguageSettings, QualitySettings,
                                 TokenizerSettings)

TEXT = ("Adults with chronic kidney disease should receive annual influenza vaccination. Clinicians ought to review "
        "renal function before prescribing metformin, adjusting doses when filtration falls. Patients reported fewer "
        "hospital admissions after structured follow-up visits during winter months.")  # 35 words


def _doc(text: str, subset: str = "papers", source: str = "pmc") -> Document:
    return Document(id=f"{source}-1", source=source, subset=subset, title="t", text=text)


def test_quality_fn_takes_the_quality_section_and_its_subset_overrides():
    from transforms.quality import quality_fn, thresholds_for

    cfg = validate_config({"quality": {"min_words": 40, "min_prose_words": 0,
                                       "subsets": {"abstracts": {"min_words": 10, "min_prose_words": 0}}}})
    assert isinstance(cfg.quality, QualitySettings)
    text = TEXT
    check = quality_fn(cfg.quality)
    dropped = check(_doc(text, "papers"))
    assert isinstance(dropped, Drop) and dropped.reason == "too_few_words"
    assert check(_doc(text, "abstracts", "pubmed")).id == "pubmed-1"  # the subset's own threshold
    # A spec's override wins over both; the section object is not changed by it.
    assert quality_fn(cfg.quality, {"pmc": {"min_words": 5}})(_doc(text)).id == "pmc-1"
    assert thresholds_for(cfg.quality, "papers")["min_words"] == 40
    assert thresholds_for(cfg.quality, "abstracts")["min_words"] == 10
    # A changed section changes the decision: the stage reads nothing but its section.
    assert quality_fn(cfg.quality.replace(min_words=20))(_doc(text)).id == "pmc-1"


def test_language_stage_gets_its_section_seeded_with_the_corpus_seed():
    from transforms.language import language_fn

    cfg = validate_config({"seed": 77, "language": {"allowed": ["en", "fr"]}})
    assert isinstance(cfg.language, LanguageSettings)
    assert cfg.language.seed == 77 and cfg.language.allowed == ["en", "fr"]
    assert "seed" not in cfg.to_dict()["language"], "the seed is the corpus's, not a key of the section"
    with pytest.raises(SettingsError, match="unknown config key 'language.seed'"):
        validate_config({"language": {"seed": 3}})
    kept = language_fn(cfg.language)(_doc(TEXT))
    assert isinstance(kept, Document) and kept.lang == "en"


def test_near_dedup_parameters_come_from_the_dedup_section():
    cfg = validate_config({"dedup": {"num_perm": 64, "bands": 8, "rows": 8, "threshold": 0.7, "hash_seed": 9}})
    assert isinstance(cfg.dedup, DedupSettings)
    params = cfg.dedup.minhash
    assert (params.num_perm, params.bands, params.rows, params.threshold, params.hash_seed,
            params.shingle_size, params.verify_hashes) == (64, 8, 8, 0.7, 9, cfg.dedup.shingle_size,
                                                           cfg.dedup.verify_hashes)


def test_sections_built_by_hand_default_to_default_yaml():
    """ExtractOptions() and LanguageSettings() (tests, tools) equal what a default config gives."""
    cfg = load_config()
    assert isinstance(cfg.extract, ExtractSettings)
    assert ExtractOptions() == cfg.extract.options
    assert cfg.extract.options.pdf_timeout_s == cfg.extract.pdf_timeout_s
    assert LanguageSettings(seed=cfg.seed) == cfg.language
    assert LanguageSettings().to_dict() == default_config()["language"]


def test_hand_built_sections_are_checked_like_the_file():
    with pytest.raises(ValueError, match="tables"):
        ExtractSettings(**{**default_config()["extract"], "tables": "sideways"})
    with pytest.raises(ValueError, match="min_share"):
        LanguageSettings(min_share=0)
    assert isinstance(load_config().tokenizer, TokenizerSettings)


def test_extract_command_options_are_the_validated_extract_section(tmp_path):
    import argparse

    from gap_pipeline.commands.extract import _options

    opts = _options(argparse.Namespace(config=None, citations="remove", tables=None))
    assert opts == load_config().extract.replace(citations="remove").options
    assert isinstance(opts, ExtractOptions) and opts.citations == "remove"
