"""Three bulk PubMed "files" built from MEDLINE records, for the update tests on real records
(test_medline_updates.py) and on the authored ones (test_medline_fixtures.py): a baseline (seq 1) and two
updates (seq 2, 3) that revise a record, strip an abstract, delete citations and re-add a deleted one. The
raw records carry meta the way scrapers.bulk.pubmed writes it."""
from __future__ import annotations

import gzip
import re

from schemas.document import Document, document_id
from schemas.events import Drop
from schemas.raw import RawRecord
from transforms.extract.medline import extract_medline
from transforms.extract.options import ExtractOptions

ARTICLE = re.compile(rb"<PubmedArticle>.*?</PubmedArticle>", re.DOTALL)
HEAD = b'<?xml version="1.0" ?>\n<PubmedArticleSet>\n'


def records_by_pmid(*xml: bytes) -> dict[str, bytes]:
    """Each <PubmedArticle> of the given files, by its PMID."""
    blocks = [b for blob in xml for b in ARTICLE.findall(blob)]
    return {re.search(rb"<PMID[^>]*>(\d+)<", b).group(1).decode(): b for b in blocks}


def update_file(seq: int, articles: list[bytes], deleted: list[str]) -> RawRecord:
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


def update_corpus(recs: dict[str, bytes], a: str, b: str, c: str, nab: str, d: str,
                  revision: tuple[bytes, bytes]) -> tuple[list[Document], list[Drop]]:
    """Roles: A revised (`revision`: old, new words) then deleted, B loses its abstract, C deleted then
    back, NAB never had an abstract, D untouched. The documents and extraction drops of the three files."""
    assert b"<Abstract>" not in recs[nab] and all(b"<Abstract>" in recs[p] for p in (a, b, c, d))
    revised_a = recs[a].replace(revision[0], revision[1], 1)
    stripped_b = re.sub(rb"<Abstract>.*?</Abstract>", b"", recs[b], flags=re.DOTALL)
    files = [
        update_file(1, [recs[a], recs[b], recs[c], recs[nab], recs[d]], []),
        update_file(2, [revised_a, stripped_b], [c, "99999999"]),   # revise A, B loses its abstract, delete C
        update_file(3, [recs[c]], [a]),                              # C comes back, A is deleted
    ]
    docs: list[Document] = []
    drops: list[Drop] = []
    for raw in files:
        for item in extract_medline(raw, subset="abstracts", options=ExtractOptions()):
            (docs if isinstance(item, Document) else drops).append(item)
    return docs, drops


def pid(pmid: str) -> str:
    return document_id("pubmed", f"PMID:{pmid}")


def outsiders(guideline_pmid: str, paper_pmid: str) -> list[Document]:
    """Documents of other sources naming the same PMIDs: a PubMed guideline (from E-utilities, not bulk
    files: no file_seq, never touched) and a paper."""
    return [Document(id="guide", source="pubmed_guidelines", subset="guidelines", title="t", text="guideline text",
                     meta={"pmid": guideline_pmid}),
            Document(id="paper", source="pmc", subset="papers", title="p", text="paper text",
                     meta={"pmid": paper_pmid, "pmcid": "PMC1"})]


def decide(docs: list[Document]):
    """The build's PubMed-update wiring (transforms.keys.pubmed_update_decisions) over in-memory documents:
    (drops, counters)."""
    from transforms.keys import decide_on_documents, pubmed_update_decisions
    return decide_on_documents(docs, lambda read: pubmed_update_decisions(read, {"abstracts": 0}))
