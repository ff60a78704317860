"""Train/validation split by document-id hash, chosen before packing so no document straddles both.

`validation_fraction` is per subset (MEDITRON: 3% of papers and abstracts, 5% of guidelines, none of
replay). The choice depends only on the document id, the subset's fraction and the seed, so it is the
same whatever the worker layout, and a document keeps its split when other documents come and go.
"""
from __future__ import annotations

import hashlib
from typing import Mapping

TRAIN = "train"
VALIDATION = "validation"
SPLITS = (TRAIN, VALIDATION)


def stable_hash(*parts: object) -> int:
    """A 64-bit integer from sha256 of the parts (never Python's hash(), which is salted per process)."""
    joined = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(joined).digest()[:8], "big")


def unit_interval(*parts: object) -> float:
    """A number in [0, 1) derived from the parts."""
    return stable_hash(*parts) / 2.0**64


def assign_split(doc_id: str, subset: str, fractions: Mapping[str, float], seed: int) -> str:
    """'validation' for about `fractions[subset]` of the documents (chosen by hash), else 'train'."""
    fraction = float(fractions.get(subset, 0.0))
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation fraction for subset {subset!r} must be in [0, 1), got {fraction}")
    return VALIDATION if unit_interval("split", seed, doc_id) < fraction else TRAIN
