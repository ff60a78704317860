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
from testkit.server import FixtureServer, Page

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
    # carrier-grade NAT, benchmarking, IETF protocol, documentation, reserved and multicast ranges
    ("100.64.0.1", False, False), ("100.127.255.254", True, False), ("198.18.0.1", False, False),
    ("192.0.0.8", False, False), ("203.0.113.5", False, False), ("240.0.0.1", False, False),
    ("224.0.0.251", False, False), ("255.255.255.255", False, False), ("100.128.0.1", False, True),
    # IPv6 forms that carry an IPv4 address are judged by it: 6to4, NAT64 (well-known prefix), mapped
    ("2002:7f00:1::1", True, False), ("2002:a00:1::1", False, False), ("2002:6440:1::", False, False),
    ("2002:808:808::1", False, True), ("64:ff9b::a9fe:a9fe", False, False), ("64:ff9b::6440:1", False, False),
    ("64:ff9b::808:808", False, True), ("::ffff:100.64.0.1", False, False), ("64:ff9b:1::1", False, False),
    # Teredo tunnels, unique-local, site-local, documentation, IPv4-compatible, multicast
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False, False), ("fd00::1", False, False), ("fec0::1", False, False),
    ("2001:db8::1", False, False), ("::127.0.0.1", True, False), ("ff02::1", False, False),
])
def test_ip_allowed(address, loopback, allowed):
    import ipaddress
    assert ip_allowed(ipaddress.ip_address(address), loopback) is allowed


def test_refusal_names_the_range_and_the_embedded_address(limiter):
    from scrapers.client import address_refusal
    import ipaddress
    assert "100.64.0.0/10" in address_refusal(ipaddress.ip_address("100.64.3.4"), False)
    why = address_refusal(ipaddress.ip_address("2002:a00:1::1"), False)
    assert why.startswith("6to4 address") and "10.0.0.1" in why
    assert "NAT64" in address_refusal(ipaddress.ip_address("64:ff9b::7f00:1"), True)
    assert "Teredo" in address_refusal(ipaddress.ip_address("2001:0:4136:e378:8000:63bf:3fff:fdd2"), False)
    client = PoliteClient(["100.64.0.9", "2002:7f00:1::1"], fast_client(allow_loopback=True), rate_limiter=limiter)
    cgnat = client.fetch("http://100.64.0.9/x")
    assert cgnat.error == "private_address" and "100.64.0.0/10" in cgnat.detail
    tunnel = client.fetch("http://[2002:7f00:1::1]/x")
    assert tunnel.error == "private_address" and "127.0.0.1" in tunnel.detail
    assert client.requests_made == 0
