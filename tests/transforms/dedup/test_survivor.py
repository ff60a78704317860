"""transforms/dedup/survivor.py and the named record fields the dedup and PubMed-update decisions use."""
from __future__ import annotations

from schemas.document import Document
from transforms.dedup.exact import choose_survivors, fingerprint
from transforms.dedup.survivor import SURVIVOR_FIELDS, exact_rank, survivor_id, survivor_key
from transforms.extract.medline import CitationVersion, Version, citation_version, resolve_versions

PRIORITY = {"guidelines": 0, "papers": 1, "abstracts": 2, "replay": 3}


def _doc(doc_id: str, subset: str = "papers", text: str = "Same text here.", **meta) -> Document:
    return Document(id=doc_id, source="s", subset=subset, title="", text=text, meta=meta)


def test_survivor_key_is_a_plain_tuple_read_by_name():
    key = survivor_key(_doc("d1", date="2021-03-15"), PRIORITY)
    assert type(key) is tuple and len(key) == len(SURVIVOR_FIELDS)  # plain on the wire (Beam's native coder)
    assert survivor_id(key) == "d1" and dict(zip(SURVIVOR_FIELDS, key))["neg_date"] == -20210315
    rank = exact_rank(key, "f" * 64)
    assert survivor_id(rank) == "d1" and rank[:len(key)] == key


def test_the_exact_winner_is_named_by_id_in_the_drop():
    newer, older = _doc("new", date="2022"), _doc("old", date="2019")
    kept, dropped = choose_survivors([older, newer], PRIORITY)
    assert kept == [newer] and dropped == [(older, "new")]
    assert exact_rank(survivor_key(newer, PRIORITY), fingerprint(newer)) < exact_rank(
        survivor_key(older, PRIORITY), fingerprint(older))


def test_citation_version_names_its_parts():
    doc = _doc("c", subset="abstracts", pmid=" 42 ", file_seq="7")
    version = citation_version(doc)
    assert version == CitationVersion("s", "42", 7) and version.citation == ("s", "42")
    assert type(version.citation) is tuple  # a Beam key: plain tuple
    assert citation_version(_doc("x", pmid="42")) is None  # not from a bulk file


def test_resolve_versions_keeps_the_newest_file_whatever_the_input_order():
    versions = [Version(1, "a", "t1", "v1"), Version(3, "a", "t3", "v3"), Version(2, "a", "t2", "v2")]
    for order in (versions, versions[::-1]):
        kept, dropped = resolve_versions(order, [])
        assert kept == ["v3"] and sorted(dropped) == [("v1", "superseded", "3"), ("v2", "superseded", "3")]
    kept, dropped = resolve_versions(versions, [("deleted", 4)])
    assert kept == [] and ("v3", "deleted_citation", "4") in dropped
