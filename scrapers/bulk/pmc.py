"""PMC Open Access subset from its official bulk packages.

NCBI publishes, per licence group (`oa_comm`: CC BY/CC0..., `oa_noncomm`: CC BY-NC..., `oa_other`), a
baseline of `<group>_xml.PMC00xxxxxx.baseline.<date>.tar.gz` packages and daily
`<group>_xml.incr.<date>.tar.gz` packages, each with a `.filelist.csv` giving every member's PMCID,
PMID, licence, last-updated time and retraction flag. Packages are applied baseline first, then
increments by date; a state file remembers the packages already done, so a re-run fetches only new
increments. Members are streamed out of the tar (see `tarsafe`); one raw record per article whose
URL is the article's canonical PMC address, so a newer version of an article supersedes the old.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import logging
import re
from datetime import datetime, timezone
from typing import Callable, Iterator

from schemas.raw import RawRecord
from scrapers.bulk.download import BulkDownloader, DownloadError, listing_links
from scrapers.bulk.state import BulkState
from scrapers.bulk.tarsafe import Member, Refused, iter_tar

log = logging.getLogger(__name__)

PACKAGE = re.compile(r"(?P<group>oa_[a-z]+)_xml\.(?:(?P<range>PMC[0-9x]+)\.baseline|incr)\.(?P<date>\d{4}-\d{2}-\d{2})\.tar\.gz$")
_DOI = re.compile(rb'<article-id[^>]*pub-id-type="doi"[^>]*>\s*([^<\s]+)\s*</article-id>')
ARTICLE_URL = "https://www.ncbi.nlm.nih.gov/pmc/articles/{pmcid}/"


@dataclasses.dataclass(frozen=True)
class Package:
    url: str
    group: str
    kind: str   # baseline | incr
    date: str

    @property
    def filelist_url(self) -> str:
        return self.url[: -len(".tar.gz")] + ".filelist.csv"

    @property
    def name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


def parse_filelist(text: str) -> dict[str, dict[str, str]]:
    """member path -> {pmcid, pmid, license, last_updated, retracted}; accepts the bulk `.filelist.csv`
    and the older `oa_file_list.csv` column names."""
    rows: dict[str, dict[str, str]] = {}
    reader = csv.DictReader(io.StringIO(text))
    for row in reader:
        norm = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        member = norm.get("article file") or norm.get("file") or ""
        if not member:
            continue
        pmcid = norm.get("accessionid") or norm.get("accession id") or ""
        updated = next((v for k, v in norm.items() if k.startswith("lastupdated") or k.startswith("last updated")), "")
        rows[member] = {"pmcid": pmcid, "pmid": "" if norm.get("pmid", "0") in ("0", "") else norm["pmid"],
                        "license": norm.get("license", ""), "last_updated": updated,
                        "retracted": norm.get("retracted", "no").lower()}
    return rows


def plan_packages(links: list[str], groups: tuple[str, ...]) -> list[Package]:
    """Packages of the wanted licence groups, baselines first then increments, each by date and name."""
    found = []
    for url in links:
        match = PACKAGE.search(url)
        if match and match.group("group") in groups:
            found.append(Package(url, match.group("group"), "baseline" if match.group("range") else "incr",
                                 match.group("date")))
    return sorted(found, key=lambda p: (p.kind != "baseline", p.date, p.name))


class PmcOaFetcher:
    """Yields one `jats` RawRecord per article of every package not yet done."""

    def __init__(self, downloader: BulkDownloader, base_url: str, *, groups: tuple[str, ...] = ("oa_comm",),
                 state_path: str | None = None, max_member_bytes: int = 256 << 20, keep_packages: bool = False,
                 source: str = "pmc", checkpoint: "Callable[[], object] | None" = None):
        self.downloader = downloader
        self.source = source
        # Called after a package's last record and before it is marked done, so the caller can flush
        # its writer: a run killed in between then refetches the package instead of losing it.
        self.checkpoint = checkpoint
        self.base_url = base_url.rstrip("/")
        self.groups = groups
        self.state = BulkState(state_path)
        self.max_member_bytes = max_member_bytes
        self.keep_packages = keep_packages
        self.refused: list[tuple[str, str, str]] = []   # (package, member, reason)
        self.failed: list[tuple[str, str]] = []         # (package url, reason): not marked done, retried next run
        self.stats = {"packages": 0, "articles": 0, "retracted": 0, "not_in_filelist": 0, "refused": 0}

    def packages(self) -> list[Package]:
        links: list[str] = []
        for group in self.groups:
            folder = f"{self.base_url}/{group}/xml/"
            links.extend(listing_links(self.downloader.get_text(folder), folder))
        return plan_packages(links, self.groups)

    def fetch(self) -> Iterator[RawRecord]:
        for package in self.packages():
            if self.state.is_done(package.name):
                continue
            try:
                yield from self._package_records(package)
            except DownloadError as exc:  # one bad package never stops the others
                self.failed.append((package.url, str(exc)))
                log.error("pmc: %s", exc)
                continue
            if self.checkpoint is not None:
                self.checkpoint()
            self.state.mark_done(package.name)
            self.stats["packages"] += 1

    def _package_records(self, package: Package) -> Iterator[RawRecord]:
        filelist = parse_filelist(self.downloader.get_text(package.filelist_url))
        path, _md5 = self.downloader.download(package.url)
        fetched_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        try:
            with open(path, "rb") as stream:
                for item in iter_tar(stream, max_member_bytes=self.max_member_bytes):
                    if isinstance(item, Refused):
                        self.stats["refused"] += 1
                        self.refused.append((package.name, item.name, item.reason))
                        log.warning("pmc: refused %s in %s: %s", item.name, package.name, item.reason)
                        continue
                    record = self._record(package, item, filelist, fetched_at)
                    if record is not None:
                        yield record
        finally:
            if not self.keep_packages:
                path.unlink(missing_ok=True)

    def _record(self, package: Package, member: Member, filelist: dict, fetched_at: str) -> RawRecord | None:
        info = filelist.get(member.name)
        if info is None:
            self.stats["not_in_filelist"] += 1
            self.refused.append((package.name, member.name, "not_in_filelist"))
            return None
        if info["retracted"] == "yes":
            self.stats["retracted"] += 1
            return None
        pmcid = info["pmcid"] or member.name.rsplit("/", 1)[-1].split(".")[0]
        doi = _DOI.search(member.content[:200_000])
        meta = {"pmcid": pmcid, "pmid": info["pmid"], "license": info["license"], "last_updated": info["last_updated"],
                "package": package.name, "package_kind": package.kind, "member": member.name,
                "doi": doi.group(1).decode("utf-8", "replace") if doi else ""}
        self.stats["articles"] += 1
        return RawRecord.make(source=self.source, url=ARTICLE_URL.format(pmcid=pmcid), fetched_at=fetched_at,
                              content_type="jats", content=member.content, license=info["license"] or "unknown",
                              meta=meta)


__all__ = ["PmcOaFetcher", "Package", "parse_filelist", "plan_packages", "DownloadError"]
