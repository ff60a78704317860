"""The document stages' names, declared once, in the order a build runs them.

A stage's name is the `stage` of its drops, the prefix of its Beam counters (`stage:reason`) and its
key in the manifest's `stages` table, whose docs_in/docs_out chain in this order (each stage's docs_in
is the previous one's docs_out). The order is the build's (gap_pipeline/pipeline.py): the extract phase,
then the filter phase (PubMed updates, boilerplate, clean, quality), then the dedup phase (full text,
exact, near, language, decontamination).
"""
from __future__ import annotations

EXTRACT = "extract"
PUBMED_UPDATES = "pubmed_updates"  # the newest version of a PubMed citation; DeleteCitation honoured
BOILERPLATE = "boilerplate"
CLEAN = "clean"
QUALITY = "quality"
FULLTEXT = "fulltext"              # abstracts whose full-text paper is in the corpus
DEDUP_EXACT = "dedup_exact"
DEDUP_NEAR = "dedup_near"
LANGUAGE = "language"
DECONTAMINATE = "decontaminate"

STAGE_ORDER = (EXTRACT, PUBMED_UPDATES, BOILERPLATE, CLEAN, QUALITY, FULLTEXT, DEDUP_EXACT, DEDUP_NEAR, LANGUAGE,
               DECONTAMINATE)


def stage_rank(stage: str) -> tuple[int, str]:
    """Sort key for stage names: the build's order, then any other stage by name."""
    return (STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER), stage)
