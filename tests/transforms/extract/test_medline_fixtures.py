"""MEDLINE behaviours checked in tests/papers/test_medline.py on NLM files that may not be redistributed
(tests/data/NOT_BUNDLED.tsv), here on tests/data/authored/medline/authored_medline.xml: invented citations in
NLM's PubMed DTD exercising the same elements, so a clone without ../shared tests them too."""
from __future__ import annotations

import gzip
import re

from schemas.document import Document, document_id
from schemas.events import Drop
from schemas.raw import RawRecord
from testkit.authored import MEDLINE_XML
from transforms.extract import extract_record
from transforms.extract.medline import deleted_pmids, extract_medline, iter_medline
from transforms.extract.options import ExtractOptions

RECORD = re.compile(rb"<(PubmedArticle|MedlineCitation)[ >].*?</\1>", re.DOTALL)


def _raw(content: bytes, url: str = MEDLINE_XML.as_uri()) -> RawRecord:
    return RawRecord.make(source="pubmed", url=url, fetched_at="2024-01-01T00:00:00Z",
                          content_type="pubmed-xml", content=content)


def _docs(content: bytes) -> list[Document]:
    return [d for d in extract_medline(_raw(content), subset="abstracts", options=ExtractOptions())
            if isinstance(d, Document)]


def test_record_counts_match_records_with_abstracts():
    """Same check as test_medline.test_record_counts_match_records_with_abstracts: a regex independent of
    lxml counts the records and those with a non-empty main Abstract."""
    content = MEDLINE_XML.read_bytes()
    out = extract_record(_raw(content), subset="abstracts", options=ExtractOptions(), rules={})
    main = [d for d in out if isinstance(d, Document) and "abstract_of" not in d.meta]
    no_abstract = [d for d in out if isinstance(d, Drop) and d.reason == "no_abstract"]
    blocks = [m.group(0) for m in RECORD.finditer(content)]
    with_abstract = [b for b in blocks if re.search(rb"<Abstract>.*?<AbstractText", b, re.DOTALL)]
    assert len(blocks) == 4 and len(main) == len(with_abstract) == 3
    assert len(main) + len(no_abstract) == len(blocks)
    assert [d.detail for d in no_abstract] == ["PMID:90000004"]
    for doc in main:
        assert doc.id == document_id("pubmed", f"PMID:{doc.meta['pmid']}")
        # inline markup (<i>, <sub>) and entities are text, never tags
        assert not re.search(r"</?(?:i|b|u|sup|sub|AbstractText|mml:\w+|math)\b[^>]*>|&[a-z]+;", doc.text)
    trial = next(d for d in main if d.meta["pmid"] == "90000002")
    assert "of Lactobacillus supplements" in trial.title and "CO2-free" in trial.text and "p<0.05" in trial.text


def test_structured_abstract_metadata_and_other_abstracts():
    docs = _docs(MEDLINE_XML.read_bytes())
    [trial] = [d for d in docs if d.meta["pmid"] == "90000002"]
    lines = trial.text.split("\n")
    assert [line.split(":", 1)[0] for line in lines[2:]] == ["BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS"]
    assert "Randomized Controlled Trial" in trial.meta["publication_types"]
    assert trial.meta["year"] == 2021  # from <MedlineDate>2021 Spring-Summer</MedlineDate>
    german = [d for d in docs if d.lang == "de"]
    assert len(german) == 1 and german[0].meta["other_abstract_type"] == "Publisher"
    assert german[0].meta["abstract_of"] == document_id("pubmed", "PMID:90000003")
    assert german[0].text.startswith("In dieser erfundenen Umfrage")
    for key in ("pmid", "publication_types", "mesh_terms", "journal", "year", "language"):
        assert key in docs[0].meta
    assert len({d.id for d in docs}) == len(docs)


def test_vernacular_and_bracketed_titles():
    docs = {d.meta["pmid"]: d for d in _docs(MEDLINE_XML.read_bytes()) if "abstract_of" not in d.meta}
    german = docs["90000003"]
    # a translated title loses NLM's square brackets; the record's language is kept
    assert german.title == "Vitamin D supplementation in older adults: a survey of general practices."
    assert german.meta["language"] == "de"
    # without an ArticleTitle the VernacularTitle is the title
    only_vernacular = re.sub(rb"<ArticleTitle>\[Vitamin.*?</ArticleTitle>", b"", MEDLINE_XML.read_bytes(),
                             flags=re.DOTALL)
    [doc] = [d for d in _docs(only_vernacular) if d.meta["pmid"] == "90000003" and "abstract_of" not in d.meta]
    assert doc.title == "Vitamin-D-Supplementierung bei älteren Erwachsenen: eine Umfrage in Hausarztpraxen."


def test_current_format_ids_and_gzip(tmp_path):
    """Same checks as test_medline.test_current_format_ids_and_gzip, on the gzipped fixture."""
    content = gzip.compress(MEDLINE_XML.read_bytes(), mtime=0)
    docs = _docs(content)
    first = docs[0].meta
    assert first["pmid"] == "90000001" and first["doi"] == "10.9999/jics.2023.0101"
    assert "Ankle Injuries*" in first["mesh_terms"] and "Review" in first["publication_types"]
    pmcids = {d.meta.get("pmcid") for d in docs}
    assert "PMC9900001" in pmcids  # from PubmedData/ArticleIdList...
    assert "PMC9900050" not in pmcids  # ...not from the reference list
    pmids = {d.meta["pmid"] for d in docs}
    assert "90000099" not in pmids and "90000050" not in pmids  # CommentsCorrections / references are not records
    assert docs[0].text.startswith("Ankle Sprain: Assessment and Early Management.\n\nAnkle sprain is")
    assert "Copyright" not in docs[0].text  # CopyrightInformation is not abstract text
    path = tmp_path / "pubmed24n0001.xml.gz"
    path.write_bytes(content)
    streamed = list(iter_medline(_raw(b"unused", path.as_uri()), subset="abstracts", source=str(path)))
    assert [d.text for d in streamed if isinstance(d, Document)] == [d.text for d in docs]


def test_delete_citations_in_a_file_with_records():
    assert deleted_pmids(str(MEDLINE_XML)) == ["90000097", "90000098"]
    gz_deletes = [d for d in extract_medline(_raw(gzip.compress(MEDLINE_XML.read_bytes(), mtime=0)),
                                             subset="abstracts", options=ExtractOptions())]
    # the records are still extracted: a file's deletions do not hide its own records
    assert sum(isinstance(d, Document) for d in gz_deletes) == 4
