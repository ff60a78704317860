"""Streaming downloads of large bulk files to a local cache (atomic rename, size cap, retries).

Bulk packages are far larger than what `scrapers.client.PoliteClient` keeps in memory, so they are
streamed to disk. Only http(s) URLs on the allowed hosts are fetched (loopback only when a test says so).
"""
from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests

from scrapers.client import PeerCheckedAdapter, PeerCheckedRetry

USER_AGENT = "gap_pipeline-bulk (+https://github.com/gap-pipeline/gap_pipeline)"
_HREF = re.compile(r"""href\s*=\s*["']([^"'?#]+)["']""", re.IGNORECASE)


class DownloadError(RuntimeError):
    """A bulk file could not be fetched or failed verification (message says which and why)."""


class BulkDownloader:
    def __init__(self, allowed_hosts: list[str], cache_dir: str | os.PathLike, *, allow_loopback: bool = False,
                 max_bytes: int = 64 << 30, retries: int = 4, timeout_s: float = 60.0, user_agent: str = USER_AGENT):
        self.allowed_hosts = [h.lower() for h in allowed_hosts]
        self.allow_loopback = allow_loopback
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.session = requests.Session()
        self.session.trust_env = False
        retry = PeerCheckedRetry(total=retries, backoff_factor=1.0, status_forcelist=(429, 500, 502, 503, 504),
                      allowed_methods=frozenset({"GET"}), raise_on_status=False)
        # The connected peer is checked too (not only the host name): a DNS answer that turns private
        # between the check and the connect is refused.
        adapter = PeerCheckedAdapter(max_retries=retry, allow_loopback=allow_loopback)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers["User-Agent"] = user_agent

    def check(self, url: str) -> None:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https"):
            raise DownloadError(f"{url}: only http(s) bulk URLs are fetched")
        if host in ("127.0.0.1", "localhost", "::1"):
            if not self.allow_loopback:
                raise DownloadError(f"{url}: loopback address refused")
            return
        if not any(host == h or host.endswith("." + h) for h in self.allowed_hosts):
            raise DownloadError(f"{url}: host {host!r} is not in the allowed hosts {self.allowed_hosts}")

    def get_text(self, url: str, max_bytes: int = 256 << 20) -> str:
        self.check(url)
        try:
            resp = self.session.get(url, timeout=self.timeout_s, allow_redirects=False)
        except requests.RequestException as exc:
            raise DownloadError(f"{url}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code != 200:
            raise DownloadError(f"{url}: HTTP {resp.status_code}")
        if len(resp.content) > max_bytes:
            raise DownloadError(f"{url}: larger than {max_bytes} bytes")
        return resp.content.decode("utf-8", errors="replace")

    def download(self, url: str, name: str | None = None) -> tuple[Path, str]:
        """Stream `url` into the cache; returns (path, md5 hex). A finished file is reused."""
        self.check(url)
        path = self.cache_dir / (name or Path(urlsplit(url).path).name)
        if path.exists():
            return path, _md5_file(path)
        tmp = path.with_suffix(path.suffix + ".part")
        digest = hashlib.md5()
        got = 0
        try:
            with self.session.get(url, stream=True, timeout=self.timeout_s, allow_redirects=False) as resp:
                if resp.status_code != 200:
                    raise DownloadError(f"{url}: HTTP {resp.status_code}")
                expected = resp.headers.get("Content-Length")
                with open(tmp, "wb") as out:
                    for chunk in resp.iter_content(1 << 20):
                        got += len(chunk)
                        if got > self.max_bytes:
                            raise DownloadError(f"{url}: larger than {self.max_bytes} bytes")
                        digest.update(chunk)
                        out.write(chunk)
                if expected is not None and int(expected) != got:
                    raise DownloadError(f"{url}: truncated ({got} of {expected} bytes)")
        except requests.RequestException as exc:
            tmp.unlink(missing_ok=True)
            raise DownloadError(f"{url}: {type(exc).__name__}: {exc}") from exc
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        return path, digest.hexdigest()


def _md5_file(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def listing_links(html: str, base_url: str) -> list[str]:
    """Absolute URLs of the files an HTTP directory listing links to (sorted, no parents/queries)."""
    links = set()
    for href in _HREF.findall(html):
        if href.startswith(("..", "/")) and not href.startswith(urlsplit(base_url).path):
            continue
        url = urljoin(base_url if base_url.endswith("/") else base_url + "/", href)
        if not url.endswith("/"):
            links.add(url)
    return sorted(links)
