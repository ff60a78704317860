"""BulkDownloader's host allow-list."""
from __future__ import annotations

import pytest

from scrapers.bulk.download import BulkDownloader, DownloadError


def test_downloader_refuses_other_hosts(tmp_path):
    d = BulkDownloader(["ftp.ncbi.nlm.nih.gov"], tmp_path)
    with pytest.raises(DownloadError):
        d.check("http://127.0.0.1:1/x")  # loopback not allowed unless asked
    with pytest.raises(DownloadError):
        d.check("https://example.org/x")
    with pytest.raises(DownloadError):
        d.check("file:///etc/passwd")
    d.check("https://ftp.ncbi.nlm.nih.gov/pubmed/baseline/")
