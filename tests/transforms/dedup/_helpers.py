"""Documents and a runner shared by the exact and near dedup tests: the build's own key wiring
(transforms.keys.dedup_decisions) over in-memory documents."""
from __future__ import annotations

from schemas.document import Document
from transforms.dedup import MinHashParams
from transforms.keys import decide_on_documents, dedup_decisions

PRIORITY = {"guidelines": 0, "papers": 1, "abstracts": 2, "replay": 3}
BASE = ("Adults with community acquired pneumonia should receive amoxicillin 500 mg three times daily "
        "for five days unless they have a penicillin allergy in which case doxycycline 200 mg on the "
        "first day then 100 mg once daily is an alternative; review at 48 hours and extend treatment "
        "if the patient is not improving or has risk factors for a complicated course. ")


def doc(i, text, subset="papers", **meta):
    return Document(id=f"d{i}", source=f"s{i}", subset=subset, title="", text=text,
                    meta=meta)


def run(docs, params=MinHashParams(), exact=True, near=True):
    """(kept ids, (doc_id, stage, reason, detail) of each drop), both sorted."""
    dropped, _ = decide_on_documents(docs, lambda read: dedup_decisions(read, PRIORITY, params, exact=exact, near=near))
    lost = {x.doc_id for x in dropped}
    return sorted(d.id for d in docs if d.id not in lost), sorted((x.doc_id, x.stage, x.reason, x.detail) for x in dropped)
