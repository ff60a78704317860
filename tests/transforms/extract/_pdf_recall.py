"""Body-text word recall of our PDF extraction against poppler's `pdftotext`, the independent reference of
the real-PDF and authored-PDF tests."""
from __future__ import annotations

import re
from collections import Counter


def reference_body(reference: str) -> str:
    """pdftotext output minus what is not body text on any reading: lines repeated on many pages
    (running headers/footers), bare page numbers and table-of-contents lines."""
    pages = reference.split("\f")
    key = lambda line: re.sub(r"\d+", "0", " ".join(line.lower().split()))  # noqa: E731
    counts: Counter[str] = Counter()
    for page in pages:
        counts.update({key(line) for line in page.splitlines() if line.strip()})
    needed = max(3, 0.3 * len(pages))
    body = []
    for page in pages:
        for line in page.splitlines():
            if not line.strip() or (len(pages) >= 3 and counts[key(line)] >= needed):
                continue
            if re.match(r"^\s*(page\s*)?\d+(\s*of\s*\d+)?\s*$", line, re.IGNORECASE):
                continue
            if re.search(r"(\.\s?){5,}\s*\d+\s*$", line):
                continue
            body.append(line)
    return "\n".join(body)


def _words(text: str) -> Counter[str]:
    text = re.sub(r"(\w)-\n(\w)", r"\1\2", text)
    return Counter(w.lower() for w in re.findall(r"[^\W\d_]{3,}", text))


def word_recall(ours: str, reference: str) -> float:
    ref, got = _words(reference), _words(ours)
    total = sum(ref.values())
    return sum(min(n, got[w]) for w, n in ref.items()) / total if total else 1.0
