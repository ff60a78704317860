"""PubMed baseline and update files (`pubmed<yy>n<NNNN>.xml.gz`), verified against their `.md5` files.

Each file becomes one `pubmed-xml` raw record (the gzip bytes as published; the extractor streams
them). Files are taken in sequence order, baseline first then updates; a file whose MD5 differs
from its `.md5` is deleted from the cache and reported, never stored. `DeleteCitation` PMIDs of an
update file are listed in the record's meta (`deleted_pmids`) and accumulated in the state file, so
the build can remove those citations (and older versions are superseded by the later file's record
of the same PMID, meta `file_seq`).
"""
from __future__ import annotations

import gzip
import logging
import re
from datetime import datetime, timezone
from typing import Callable, Iterator

from lxml import etree

from schemas.raw import RawRecord
from scrapers.bulk.download import BulkDownloader, DownloadError, listing_links
from scrapers.bulk.state import BulkState

log = logging.getLogger(__name__)

DATA_FILE = re.compile(r"pubmed(\d+)n(\d+)\.xml\.gz$")
_MD5 = re.compile(r"\b([0-9a-fA-F]{32})\b")


def parse_md5(text: str) -> str:
    """The hex digest of an NCBI `.md5` file ("MD5(name)= hex" or "hex  name")."""
    match = _MD5.search(text)
    if not match:
        raise ValueError(f"no MD5 digest in {text[:80]!r}")
    return match.group(1).lower()


def deleted_pmids_in(gz_path: str) -> list[str]:
    """PMIDs in DeleteCitation elements, streamed with entity resolution and network off."""
    pmids: list[str] = []
    with gzip.open(gz_path, "rb") as stream:
        for _event, elem in etree.iterparse(stream, events=("end",), tag="DeleteCitation", resolve_entities=False,
                                            no_network=True, load_dtd=False, huge_tree=False):
            pmids.extend((p.text or "").strip() for p in elem.findall("PMID") if (p.text or "").strip())
            elem.clear()
    return pmids


class PubmedFetcher:
    def __init__(self, downloader: BulkDownloader, base_url: str, *, folders: tuple[str, ...] = ("baseline", "updatefiles"),
                 state_path: str | None = None, keep_files: bool = False, source: str = "pubmed",
                 checkpoint: "Callable[[], object] | None" = None):
        self.downloader = downloader
        self.source = source
        self.checkpoint = checkpoint  # called before a file is marked done (the caller flushes its writer)
        self.base_url = base_url.rstrip("/")
        self.folders = folders
        self.state = BulkState(state_path)
        self.keep_files = keep_files
        self.failed: list[tuple[str, str]] = []  # (url, reason)
        self.stats = {"files": 0, "md5_mismatch": 0, "deleted_pmids": 0}

    def files(self) -> list[tuple[str, str, int]]:
        """(kind, url, sequence) of the data files, baseline first, each in sequence order."""
        out = []
        for rank, folder in enumerate(self.folders):
            url = f"{self.base_url}/{folder}/"
            for link in listing_links(self.downloader.get_text(url), url):
                match = DATA_FILE.search(link)
                if match:
                    out.append((rank, int(match.group(2)), folder, link))
        return [(folder, link, seq) for _rank, seq, folder, link in sorted(out)]

    def fetch(self) -> Iterator[RawRecord]:
        deleted_total = set(self.state.data.get("deleted_pmids", []))
        for folder, url, seq in self.files():
            name = url.rsplit("/", 1)[-1]
            if self.state.is_done(name):
                continue
            try:
                expected = parse_md5(self.downloader.get_text(url + ".md5"))
            except (ValueError, Exception) as exc:  # missing/invalid .md5: never store unverified data
                self.failed.append((url, f"md5_unavailable: {exc}"))
                continue
            try:
                path, actual = self.downloader.download(url)
            except DownloadError as exc:  # one bad file never stops the others; retried next run
                self.failed.append((url, f"download: {exc}"))
                continue
            if actual != expected:
                path.unlink(missing_ok=True)
                self.stats["md5_mismatch"] += 1
                self.failed.append((url, f"md5_mismatch: expected {expected}, got {actual}"))
                log.error("pubmed: %s MD5 mismatch (expected %s, got %s)", name, expected, actual)
                continue
            deleted = deleted_pmids_in(str(path)) if folder != "baseline" else []
            deleted_total.update(deleted)
            content = path.read_bytes()
            if not self.keep_files:
                path.unlink(missing_ok=True)
            self.stats["files"] += 1
            self.stats["deleted_pmids"] += len(deleted)
            yield RawRecord.make(source=self.source, url=url, fetched_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                 content_type="pubmed-xml", content=content, license="nlm-terms",
                                 meta={"file": name, "file_seq": seq, "file_kind": folder, "md5": actual,
                                       "deleted_pmids": deleted})
            if self.checkpoint is not None:
                self.checkpoint()
            self.state.mark_done(name, deleted_pmids=sorted(deleted_total, key=lambda p: (len(p), p)))

    @property
    def deleted_pmids(self) -> set[str]:
        return set(self.state.data.get("deleted_pmids", []))
