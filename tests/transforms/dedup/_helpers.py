"""Documents and a runner shared by the ExactDedup and NearDedup Beam tests."""
from __future__ import annotations

from schemas.document import Document
from transforms.dedup.runner import run_dedup_transform

PRIORITY = {"guidelines": 0, "papers": 1, "abstracts": 2, "replay": 3}
BASE = ("Adults with community acquired pneumonia should receive amoxicillin 500 mg three times daily "
        "for five days unless they have a penicillin allergy in which case doxycycline 200 mg on the "
        "first day then 100 mg once daily is an alternative; review at 48 hours and extend treatment "
        "if the patient is not improving or has risk factors for a complicated course. ")


def doc(i, text, subset="papers", **meta):
    return Document(id=f"d{i}", source=f"s{i}", subset=subset, title="", text=text,
                    meta=meta)


def run(transform, docs):
    kept, dropped = run_dedup_transform(transform, docs)
    return sorted(d.id for d in kept), sorted((x.doc_id, x.stage, x.reason, x.detail) for x in dropped)
