"""MEDLINE / PubMed XML -> abstract documents, streamed record by record.

Reads both `MedlineCitationSet` (old baseline DTDs) and `PubmedArticleSet` (current baseline, update
files and efetch output), gzip or not, with `iterparse` so memory stays bounded by one record.

A document is the title and the abstract. Structured abstracts keep their labels
("BACKGROUND: ..."); each `OtherAbstract` becomes its own document in its language (MEDLINE's main
`Abstract` is the English one). PMID, DOI, PMCID, publication types, MeSH terms, keywords, journal,
year and article language go into `meta`, so mixing can weight guidelines, meta-analyses and RCTs.
Records without an abstract become `Drop(stage="extract", reason="no_abstract")`.

`drop_abstracts_with_full_text` removes abstracts whose article is in the papers subset (by
PMID/PMCID), as MEDITRON did, so the same paper is not trained on twice.

PubMed update files (`apply_pubmed_updates`): a raw record from the bulk fetcher carries `meta.file_seq`
(baseline and update files share one sequence) and `meta.deleted_pmids`. Each document keeps
`file_seq`; the file's list of deleted PMIDs and of PMIDs whose newest record has no abstract go into
one *update-list* document per file (empty text, meta `pubmed_updates`) instead of into every
document, so a 30k-record update file does not copy its deletions 30k times. `apply_pubmed_updates`
then keeps, per (source, PMID), only the newest file's version, drops citations deleted by a later
file, and drops the update-list documents themselves (reason `update_list`), so the accounting adds up.

Both cross-document decisions are plain functions here, the specification; a build makes them on key
records (`transforms.keys.FullTextKeys`, `PubmedUpdateKeys`), tested against these functions.
"""
from __future__ import annotations

from typing import IO, Any, Iterable, Iterator, NamedTuple

from lxml import etree

from schemas import stages
from schemas.document import Document, document_id
from schemas.events import Drop, extract_drop, make_drop
from schemas.raw import RawRecord
from transforms.extract.errors import ExtractError
from transforms.extract.options import ExtractOptions
from transforms.extract.xmlsafe import MAX_DECOMPRESSED_BYTES, entity_text, iter_elements

RECORD_TAGS = ("PubmedArticle", "MedlineCitation", "PubmedBookArticle", "DeleteCitation")
UPDATE_LIST_KEY = "pubmed_updates"  # meta key of the per-file update-list document

# MEDLINE uses ISO 639-2/B codes; documents carry ISO 639-1 where one exists.
LANGUAGES = {
    "eng": "en", "fre": "fr", "ger": "de", "spa": "es", "por": "pt", "ita": "it", "dut": "nl", "rus": "ru",
    "jpn": "ja", "chi": "zh", "pol": "pl", "swe": "sv", "nor": "no", "dan": "da", "fin": "fi", "cze": "cs",
    "hun": "hu", "tur": "tr", "kor": "ko", "gre": "el", "heb": "he", "ara": "ar", "per": "fa", "rum": "ro",
    "srp": "sr", "hrv": "hr", "slo": "sk", "slv": "sl", "bul": "bg", "ukr": "uk", "lit": "lt", "lav": "lv",
    "est": "et", "ice": "is", "cat": "ca", "geo": "ka", "tha": "th", "vie": "vi", "ind": "id", "may": "ms",
    "hin": "hi", "afr": "af", "alb": "sq", "arm": "hy", "bos": "bs", "mac": "mk", "mao": "mi", "wel": "cy",
    "gle": "ga", "baq": "eu", "glg": "gl", "epo": "eo", "lat": "la", "und": "und",
}


def iso_language(code: str) -> str:
    code = (code or "").strip().lower()
    return LANGUAGES.get(code, code)


def _text(el: etree._Element | None) -> str:
    """Text of an element with inline markup (<i>, <sup>, MathML...) flattened, whitespace collapsed."""
    if el is None:
        return ""
    parts: list[str] = []
    _gather(el, parts)
    return " ".join("".join(parts).split())


def _gather(el: etree._Element, parts: list[str]) -> None:
    parts.append(el.text or "")
    for child in el:
        if isinstance(child, etree._Entity):
            parts.append(entity_text(child))
        elif isinstance(child.tag, str):
            _gather(child, parts)
        parts.append(child.tail or "")


def abstract_text(abstract: etree._Element) -> str:
    """Paragraphs of an Abstract/OtherAbstract; structured sections as 'LABEL: text'."""
    paragraphs = []
    for node in abstract.findall("AbstractText"):
        text = _text(node)
        if not text:
            continue
        label = (node.get("Label") or "").strip()
        if not label and node.get("NlmCategory") not in (None, "", "UNASSIGNED") and len(abstract) > 1:
            label = node.get("NlmCategory", "")
        paragraphs.append(f"{label}: {text}" if label else text)
    return "\n".join(paragraphs)


def _clean_title(title: str) -> str:
    # MEDLINE wraps English translations of non-English titles in brackets: "[Title]."
    if title.startswith("[") and (title.endswith("].") or title.endswith("]")):
        title = title[1:].rstrip(".").rstrip("]") + ("." if title.endswith(".") else "")
    return title


def _year(citation: etree._Element) -> int | None:
    for path in ("Article/Journal/JournalIssue/PubDate/Year", "Article/ArticleDate/Year",
                 "DateCompleted/Year", "DateCreated/Year"):
        value = citation.findtext(path)
        if value and value.strip().isdigit():
            return int(value.strip())
    medline_date = citation.findtext("Article/Journal/JournalIssue/PubDate/MedlineDate") or ""
    digits = medline_date.strip()[:4]
    return int(digits) if digits.isdigit() else None


def record_metadata(citation: etree._Element, pubmed_data: etree._Element | None) -> dict[str, Any]:
    """pmid, doi, pmcid, publication types, MeSH terms, keywords, journal, year, language."""
    article = citation.find("Article")
    meta: dict[str, Any] = {"format": "medline", "pmid": (citation.findtext("PMID") or "").strip()}
    ids: dict[str, str] = {}
    if pubmed_data is not None:
        for node in pubmed_data.findall("ArticleIdList/ArticleId"):
            kind = (node.get("IdType") or "").lower()
            if node.text and kind not in ids:
                ids[kind] = node.text.strip()
    if article is not None:
        for node in article.findall("ELocationID"):
            if (node.get("EIdType") or "").lower() == "doi" and node.text and "doi" not in ids:
                ids["doi"] = node.text.strip()
    for other in citation.findall("OtherID"):
        value = (other.text or "").strip()
        if value.upper().startswith("PMC") and "pmc" not in ids:
            ids["pmc"] = value.split()[0]
    if ids.get("doi"):
        meta["doi"] = ids["doi"]
    if ids.get("pmc"):
        pmc = ids["pmc"].upper()
        meta["pmcid"] = pmc if pmc.startswith("PMC") else f"PMC{pmc}"
    languages = [iso_language(n.text or "") for n in (article.findall("Language") if article is not None else [])]
    meta["languages"] = [x for x in languages if x]
    meta["language"] = meta["languages"][0] if meta["languages"] else ""
    meta["publication_types"] = [_text(n) for n in citation.findall("Article/PublicationTypeList/PublicationType")]
    mesh = []
    for heading in citation.findall("MeshHeadingList/MeshHeading"):
        descriptor = heading.find("DescriptorName")
        if descriptor is None:
            continue
        term = _text(descriptor)
        if descriptor.get("MajorTopicYN") == "Y":
            term += "*"
        mesh.append(term)
    meta["mesh_terms"] = mesh
    meta["keywords"] = [_text(k) for k in citation.findall("KeywordList/Keyword") if _text(k)]
    meta["journal"] = _text(citation.find("Article/Journal/Title")) or _text(citation.find("MedlineJournalInfo/MedlineTA"))
    meta["year"] = _year(citation)
    return meta


# Raw-meta keys that describe the whole file, not a citation: kept out of each document's meta.
_FILE_ONLY_META = ("deleted_pmids",)


def _record_documents(raw: RawRecord, raw_meta: dict[str, Any], subset: str, record: etree._Element) -> list[Document | Drop]:
    tag = record.tag
    if tag == "PubmedArticle":
        citation = record.find("MedlineCitation")
        pubmed_data = record.find("PubmedData")
    else:
        citation, pubmed_data = record, None
    if citation is None:
        raise ExtractError("PubmedArticle without MedlineCitation")
    meta = record_metadata(citation, pubmed_data)
    pmid = meta["pmid"]
    if not pmid:
        raise ExtractError("MEDLINE record without PMID")
    doc_id = document_id(raw.source, f"PMID:{pmid}")
    title = _clean_title(_text(citation.find("Article/ArticleTitle")) or _text(citation.find("Article/VernacularTitle")))
    base = {k: v for k, v in raw_meta.items() if k not in _FILE_ONLY_META}
    base.update(meta)
    license_name = raw_meta.get("license") or raw.license
    out: list[Document | Drop] = []
    abstract = citation.find("Article/Abstract")
    text = abstract_text(abstract) if abstract is not None else ""
    if text:
        out.append(Document(id=doc_id, source=raw.source, subset=subset, title=title,
                            text=f"{title}\n\n{text}" if title else text, url=raw.url, license=license_name,
                            lang="en", meta=base))
    else:
        out.append(extract_drop(raw, doc_id, subset, "no_abstract", chars=len(title), detail=f"PMID:{pmid}"))
    for n, other in enumerate(citation.findall("OtherAbstract")):
        other_text = abstract_text(other)
        lang = iso_language(other.get("Language", "")) or "und"
        kind = other.get("Type", "")
        other_id = document_id(raw.source, f"PMID:{pmid}#other{n}:{kind}:{lang}")
        if not other_text:
            out.append(extract_drop(raw, other_id, subset, "no_abstract", detail=f"PMID:{pmid} OtherAbstract {n}"))
            continue
        other_meta = dict(base, other_abstract_type=kind, abstract_of=doc_id)
        out.append(Document(id=other_id, source=raw.source, subset=subset, title=title, text=other_text,
                            url=raw.url, license=license_name, lang=lang,
                            meta=other_meta))
    return out


def iter_medline(raw: RawRecord, *, subset: str, source: "bytes | str | IO[bytes] | None" = None,
                 file_events: "FileEvents | None" = None,
                 max_decompressed_bytes: int = MAX_DECOMPRESSED_BYTES) -> Iterator[Document | Drop]:
    """Stream the documents/drops of a MEDLINE/PubMed file. `source` (bytes, path or binary stream)
    defaults to `raw.content`; gzip is detected by its magic number. `file_events`, when given,
    collects the file's DeleteCitation PMIDs and the PMIDs whose record gave no main document."""
    raw_meta = raw.meta_dict()
    records = 0
    for record in iter_elements(raw.content if source is None else source, RECORD_TAGS, max_decompressed_bytes):
        if record.tag == "DeleteCitation":
            if file_events is not None:
                file_events.deleted.extend((p.text or "").strip() for p in record.findall("PMID")
                                           if (p.text or "").strip())
            continue  # deletions are applied at the pubmed_updates stage (from the update-list document)
        records += 1
        if record.tag == "PubmedBookArticle":
            book = record.find("BookDocument")
            pmid = (book.findtext("PMID") if book is not None else "") or f"{raw.url}#{records}"
            if file_events is not None and book is not None and (book.findtext("PMID") or "").strip():
                file_events.without_document.append(pmid.strip())
            yield extract_drop(raw, document_id(raw.source, f"PMID:{pmid.strip()}"), subset, "book_record",
                               detail=f"PMID:{pmid.strip()}")
            continue
        results = _record_documents(raw, raw_meta, subset, record)
        if file_events is not None and results and isinstance(results[0], Drop):
            file_events.without_document.append(results[0].detail.split(":", 1)[1])
        yield from results


class FileEvents:
    """What one PubMed file says besides its documents: deleted PMIDs, PMIDs without a main document."""

    def __init__(self) -> None:
        self.deleted: list[str] = []
        self.without_document: list[str] = []


def file_seq_of(meta: dict[str, Any]) -> int | None:
    """The bulk file sequence number stamped by scrapers.bulk.pubmed, or None (not a bulk file)."""
    seq = meta.get("file_seq")
    if isinstance(seq, bool) or not isinstance(seq, (int, str)):
        return None
    try:
        return int(seq)
    except ValueError:
        return None


def update_list_document(raw: RawRecord, subset: str, seq: int, events: FileEvents) -> Document:
    """The per-file carrier of deletions and abstract-less PMIDs read at the pubmed_updates stage."""
    raw_meta = raw.meta_dict()
    updates = {"file_seq": seq, "deleted_pmids": sorted(set(events.deleted), key=_pmid_order),
               "pmids_without_document": sorted(set(events.without_document), key=_pmid_order)}
    meta = {"format": "medline", "file_seq": seq, "file": raw_meta.get("file", ""), UPDATE_LIST_KEY: updates}
    return Document(id=document_id(raw.source, f"{raw.url}#pubmed-updates"), source=raw.source, subset=subset,
                    title="", text="", url=raw.url, license=raw_meta.get("license") or raw.license, lang="",
                    meta=meta)


def _pmid_order(pmid: str) -> tuple[int, str]:
    return len(pmid), pmid


def extract_medline(raw: RawRecord, *, subset: str, options: ExtractOptions) -> list[Document | Drop]:
    """Documents of one MEDLINE/PubMed XML file (gzip accepted); ExtractError for unusable XML.

    A bulk file (raw meta `file_seq`) with deletions or abstract-less records also yields its
    update-list document (see apply_pubmed_updates)."""
    seq = file_seq_of(raw.meta_dict())
    events = FileEvents()
    out: list[Document | Drop] = list(iter_medline(raw, subset=subset, file_events=events,
                                                   max_decompressed_bytes=options.max_decompressed_bytes))
    if seq is not None and (events.deleted or events.without_document):
        out.append(update_list_document(raw, subset, seq, events))
    if not out:
        return [extract_drop(raw, document_id(raw.source, raw.url), subset,
                             "only_deletions" if events.deleted else "no_records",
                             detail=f"{len(events.deleted)} DeleteCitation PMIDs" if events.deleted else raw.url)]
    return out


def deleted_pmids(source: "bytes | str | IO[bytes]") -> list[str]:
    """PMIDs listed in the DeleteCitation elements of an update file, in file order."""
    pmids: list[str] = []
    for record in iter_elements(source, ("DeleteCitation",)):
        pmids.extend((p.text or "").strip() for p in record.findall("PMID") if (p.text or "").strip())
    return pmids


# ------------------------------------------------------------------------------ abstracts vs full text

def full_text_keys(doc: Document) -> list[str]:
    """Identifiers that link an abstract to its full-text paper: 'pmid:<n>' and 'pmcid:PMC<n>'."""
    meta = doc.meta
    keys = []
    pmid = str(meta.get("pmid") or "").strip()
    if pmid:
        keys.append(f"pmid:{pmid}")
    pmcid = str(meta.get("pmcid") or "").strip().upper()
    if pmcid:
        keys.append(f"pmcid:{pmcid if pmcid.startswith('PMC') else 'PMC' + pmcid}")
    return keys


def drop_abstracts_with_full_text(docs: Iterable[Document], stage: str = stages.EXTRACT
                                  ) -> tuple[list[Document], list[Drop]]:
    """Abstracts whose PMID/PMCID belongs to a paper are dropped (`has_full_text`, detail: the shared
    key); everything else is kept: (kept, dropped)."""
    docs = list(docs)
    paper_keys = {k for d in docs if d.subset == "papers" for k in full_text_keys(d)}
    kept: list[Document] = []
    dropped: list[Drop] = []
    for doc in docs:
        match = next((k for k in full_text_keys(doc) if k in paper_keys), None) if doc.subset == "abstracts" else None
        if match:
            dropped.append(make_drop(doc, stage, "has_full_text", detail=match))
        else:
            kept.append(doc)
    return kept, dropped


# ------------------------------------------------------------------------------ PubMed update files

UPDATES_STAGE = stages.PUBMED_UPDATES


class CitationVersion(NamedTuple):
    """Which citation a document from a bulk PubMed file is a version of, and from which file."""
    source: str
    pmid: str
    file_seq: int

    @property
    def citation(self) -> tuple[str, str]:
        """(source, pmid): the key all versions of one citation share (a plain tuple, for Beam keys)."""
        return (self.source, self.pmid)


class Version(NamedTuple):
    """One version of a citation for `resolve_versions`; `item` is what is kept or dropped."""
    file_seq: int
    doc_id: str
    tie_break: Any  # orders two records of one id in the same file (content, never input order)
    item: Any


def citation_version(doc: Document) -> CitationVersion | None:
    """The citation version of a document from a bulk PubMed file, else None."""
    meta = doc.meta
    if UPDATE_LIST_KEY in meta:
        return None
    pmid = str(meta.get("pmid") or "").strip()
    seq = file_seq_of(meta)
    if not pmid or seq is None:
        return None
    return CitationVersion(doc.source, pmid, seq)


def is_update_list(doc: Document) -> bool:
    return UPDATE_LIST_KEY in doc.meta


def update_list_events(doc: Document) -> list[tuple[tuple[str, str], tuple[str, int]]]:
    """((source, pmid), (kind, file_seq)) for every PMID an update-list document names;
    kind is `deleted` or `no_document` (a version of the citation without a main document)."""
    updates = doc.meta[UPDATE_LIST_KEY]
    seq = int(updates["file_seq"])
    events = [((doc.source, p), ("deleted", seq)) for p in updates.get("deleted_pmids", [])]
    events += [((doc.source, p), ("no_document", seq)) for p in updates.get("pmids_without_document", [])]
    return events


def update_list_drop(doc: Document, stage: str = UPDATES_STAGE) -> Drop:
    updates = doc.meta[UPDATE_LIST_KEY]
    return make_drop(doc, stage, "update_list", chars=0,
                     detail=f"file_seq {updates['file_seq']}: {len(updates.get('deleted_pmids', []))} deleted, "
                            f"{len(updates.get('pmids_without_document', []))} without abstract")


def resolve_citation_versions(docs: Iterable[Document], events: Iterable[tuple[str, int]],
                              stage: str = UPDATES_STAGE) -> tuple[list[Document], list[Drop]]:
    """One citation (source, PMID): the documents of all its versions, and its update-list events.

    Keeps the documents from the highest file_seq of any version (a newer version without an
    abstract still supersedes an older one with it); older ones are dropped `superseded` (detail: the
    newer file_seq). The newest version is dropped `deleted_citation` when a later file deleted the
    PMID (detail: that file's seq). Two records of one id in the same file: one is kept, chosen by
    content, so the result never depends on input order."""
    versioned = []
    for doc in docs:
        version = citation_version(doc)
        if version is None:
            raise ValueError(f"document {doc.id} is not a versioned PubMed citation")
        versioned.append(Version(version.file_seq, doc.id, (doc.text, doc.meta_json(), doc.title), doc))
    kept, dropped = resolve_versions(versioned, events)
    return kept, [make_drop(doc, stage, reason, detail) for doc, reason, detail in dropped]


def resolve_versions(versions: Iterable[tuple], events: Iterable[tuple[str, int]]) -> tuple[list, list[tuple]]:
    """The decision of `resolve_citation_versions` on light records (`Version`s); returns (kept items,
    [(item, reason, detail)])."""
    versions = list(versions)
    events = list(events)
    seqs = [v.file_seq for v in versions] + [seq for kind, seq in events if kind == "no_document"]
    if not seqs:
        return [], []
    newest = max(seqs)
    deleted_at = max((seq for kind, seq in events if kind == "deleted" and seq > newest), default=None)
    kept: list = []
    dropped: list[tuple] = []
    chosen: set[str] = set()
    for seq, doc_id, _tie, item in sorted(versions, key=lambda v: (-v.file_seq, v.doc_id, v.tie_break)):
        if seq < newest or doc_id in chosen:
            dropped.append((item, "superseded", str(newest)))
        elif deleted_at is not None:
            dropped.append((item, "deleted_citation", str(deleted_at)))
        else:
            chosen.add(doc_id)
            kept.append(item)
    return kept, dropped


def apply_pubmed_updates(docs: Iterable[Document], stage: str = UPDATES_STAGE) -> tuple[list[Document], list[Drop]]:
    """For citations from PubMed bulk files (meta `pmid` and `file_seq`): only the newest file's version
    is kept (`superseded` otherwise), citations deleted by a later file are dropped (`deleted_citation`)
    and the per-file update-list documents are dropped (`update_list`): (kept, dropped). Other documents
    pass untouched."""
    kept: list[Document] = []
    dropped: list[Drop] = []
    citations: dict[tuple[str, str], list[Document]] = {}
    events: dict[tuple[str, str], list[tuple[str, int]]] = {}
    for doc in docs:
        if is_update_list(doc):
            for key, event in update_list_events(doc):
                events.setdefault(key, []).append(event)
            dropped.append(update_list_drop(doc, stage))
            continue
        version = citation_version(doc)
        if version is None:
            kept.append(doc)
        else:
            citations.setdefault(version.citation, []).append(doc)
    for key in sorted(citations):
        k, d = resolve_citation_versions(citations[key], events.get(key, []), stage)
        kept.extend(k)
        dropped.extend(d)
    return kept, dropped
