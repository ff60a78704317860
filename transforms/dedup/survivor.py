"""Which copy of a duplicate survives: source priority, then newest, then longest, then id.

The key is a plain tuple, smaller = better, so every Beam step can pick a winner with `min`, which
is associative and commutative: the same winner whatever the bundling. It stays a plain tuple on the
wire (Beam's coder writes tuples natively but pickles named tuples: 4x slower and 43% larger for a
near-dedup bucket entry, of which there is one per document and band), so its fields are read through
the names below, never by position.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from schemas.document import Document

# (rank, -date, -length, document id); exact dedup extends it with the row's fingerprint
SURVIVOR_FIELDS = ("rank", "neg_date", "neg_chars", "doc_id")
_DOC_ID = SURVIVOR_FIELDS.index("doc_id")
UNRANKED = 1_000_000  # a subset missing from the priority map loses to every ranked one
_DATE_RE = re.compile(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?")


def _date_number(value: Any) -> int:
    """20210315 for '2021-03-15', 20210000 for 2021 or '2021'; 0 when absent or unreadable."""
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, (int, float)):
        year = int(value)
        return year * 10000 if 0 < year < 10000 else 0
    match = _DATE_RE.match(str(value).strip())
    if not match:
        return 0
    year, month, day = (int(g) if g else 0 for g in match.groups())
    return year * 10000 + month * 100 + day


def survivor_key(doc: Document, priority: Mapping[str, int]) -> tuple[int, int, int, str]:
    """Sort key of a document among its duplicates; the smallest key survives.

    Rank: the `priority` its source spec gave (meta "priority") when present, else the subset's
    rank in `priority` (guidelines < papers < abstracts < replay by default).
    """
    meta = doc.meta
    rank = meta.get("priority")
    if isinstance(rank, bool) or not isinstance(rank, (int, float)):
        rank = priority.get(doc.subset, UNRANKED)
    date = _date_number(meta.get("date")) or _date_number(meta.get("year"))
    return (int(rank), -date, -len(doc.text), doc.id)


def survivor_id(key: tuple) -> str:
    """The document a survivor key (or an exact rank, which extends one) belongs to."""
    return key[_DOC_ID]


def exact_rank(survivor: tuple, fingerprint: str) -> tuple:
    """Exact dedup's order: the survivor key, then the whole row's fingerprint, a total order between
    records that share an id (a re-scraped page)."""
    return survivor + (fingerprint,)
