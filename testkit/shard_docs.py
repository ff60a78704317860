"""Small synthetic documents shared by the tail, verify, report, export and tokenizer tests (deterministic, no
network)."""
from __future__ import annotations

import random

from schemas.document import Document, document_id

WORDS = ("patient dose heart lung kidney therapy trial insulin cohort randomised placebo outcome "
         "mortality guideline diagnosis fever infection antibiotic pressure renal hepatic clinical "
         "study the of and with in for to was were a an").split()


def make_docs(n_per_subset: int = 20, seed: int = 7) -> list[Document]:
    rng = random.Random(seed)
    docs = []
    for subset, source, lo, hi in (("guidelines", "who", 80, 400), ("papers", "pmc", 300, 2500),
                                   ("abstracts", "pubmed", 60, 250), ("replay", "replay", 50, 200)):
        for i in range(n_per_subset):
            words = [rng.choice(WORDS) for _ in range(rng.randint(lo, hi))]
            lines, line = [], []
            for w in words:
                line.append(w)
                if rng.random() < 0.08:
                    lines.append(" ".join(line) + ".")
                    line = []
            lines.append(" ".join(line))
            text = "\n".join(lines)
            if i % 5 == 0:
                text += " [BIB_REF] Smith, 2019 [/BIB_REF] ü 10mg"
            licence = {"who": "CC-BY-NC-SA-3.0-IGO", "pmc": "CC-BY-4.0", "pubmed": "public-domain",
                       "replay": "CC-BY-SA-3.0"}[source]
            docs.append(Document(id=document_id(source, f"{subset}-{i}"), source=source, subset=subset,
                                 title=f"{subset} {i}", text=text, url=f"https://example.org/{subset}/{i}",
                                 license=licence, lang="en", lang_score=0.99))
    return docs


def make_docs_two_guideline_sources(n_per_subset: int = 20, seed: int = 7) -> list[Document]:
    """make_docs, with every other guideline coming from `cdc` instead of `who` (two sources, one subset)."""
    docs = []
    for d in make_docs(n_per_subset, seed):
        if d.source == "who" and int(d.title.split()[-1]) % 2:
            d = d.replace(source="cdc", id=document_id("cdc", d.title), license="public-domain")
        docs.append(d)
    return docs
