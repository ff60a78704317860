"""DNS rebinding: the address is checked again on the connected socket, not only by name beforehand.

`socket.getaddrinfo` is patched so that the name check (which asks without a port) sees a public
address while the connection (which asks with a port) reaches the loopback fixture server. No
connection is ever made to the public address: only the name check sees it.
"""
from __future__ import annotations

import socket

import pytest

from scrapers.bulk.download import BulkDownloader, DownloadError
from scrapers.client import PoliteClient, ip_allowed
from tests.scrapers.conftest import fast_client
from tests.scrapers.server import FixtureServer, Page

PUBLIC = "93.184.216.34"   # only ever returned to the name check, never connected to
HOST = "rebind.example"


@pytest.fixture
def rebinding(monkeypatch):
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host == HOST:
            answer = PUBLIC if port is None else "127.0.0.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (answer, port or 0))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_rebinding_to_loopback_is_refused_at_connect_time(rebinding, limiter):
    with FixtureServer({"/page": Page("<html><title>secret</title></html>"),
                        "/robots.txt": Page("User-agent: *\nAllow: /\n", "text")}) as srv:
        url = f"http://{HOST}:{srv.port}/page"
        client = PoliteClient([HOST], fast_client(allow_loopback=False, retries=3), rate_limiter=limiter)
        result = client.fetch(url)
        assert result.error == "private_address" and "127.0.0.1" in result.detail
        assert result.content == b"" and srv.hits("/page") == 0 and srv.hits("/robots.txt") == 0
        assert client.requests_made == 1  # refused once, never retried
        assert client.fetch(url).error == "private_address"  # the host is now refused by name
        assert client.requests_made == 1
        # Same setup with loopback allowed (test mode): the fetch goes through, so the refusal
        # above came from the peer check and not from a broken connection.
        allowed = PoliteClient([HOST], fast_client(allow_loopback=True), rate_limiter=limiter)
        ok = allowed.fetch(url)
        assert ok.ok and b"secret" in ok.content and srv.hits("/page") == 1


def test_bulk_downloader_checks_the_peer_too(rebinding, tmp_path):
    with FixtureServer({"/f.xml.gz": Page(b"data", "application/gzip")}) as srv:
        downloader = BulkDownloader([HOST], tmp_path, retries=2, timeout_s=5)
        with pytest.raises(DownloadError, match="non-public address"):
            downloader.download(f"http://{HOST}:{srv.port}/f.xml.gz")
        assert srv.hits("/f.xml.gz") == 0 and not list(tmp_path.iterdir())


@pytest.mark.parametrize("address, loopback, allowed", [
    ("8.8.8.8", False, True), ("127.0.0.1", False, False), ("127.0.0.1", True, True), ("10.1.2.3", True, False),
    ("169.254.169.254", False, False), ("::ffff:127.0.0.1", False, False), ("::ffff:10.0.0.1", True, False),
    ("::1", False, False), ("fe80::1", False, False), ("0.0.0.0", False, False), ("2606:4700::1111", False, True),
])
def test_ip_allowed(address, loopback, allowed):
    import ipaddress
    assert ip_allowed(ipaddress.ip_address(address), loopback) is allowed
