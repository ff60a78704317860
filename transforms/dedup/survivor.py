"""Which copy of a duplicate survives: source priority, then newest, then longest, then id.

The key is a plain tuple, smaller = better, so every Beam step can pick a winner with `min`, which
is associative and commutative: the same winner whatever the bundling.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from schemas.document import Document

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
