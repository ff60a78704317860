"""The polite HTTP client: one per source.

Every request goes through the same gate, in this order: scheme (http/https), allowed domains,
resolved address (no private, link-local, loopback... unless `allow_loopback` for tests), robots.txt
(RFC 9309, with Crawl-delay), the per-host rate limit. Transport retries (connection errors, read
timeouts, 429/5xx with exponential backoff, jitter and Retry-After) are urllib3's `Retry` mounted
on a `requests.Session`; redirects are followed by hand so that each hop passes the gate again and
loops are caught. Bodies are streamed and abandoned at `max_body_bytes`; a body cut short is retried
a few times and then reported as `truncated`.

The resolved-address check is done twice: once by name before the request (a clear early refusal)
and again on the socket itself, at connect time, against the peer address the connection really
reached (`PeerCheckedAdapter`). The second check closes the DNS-rebinding gap: a name that resolved
to a public address for the first check and to 127.0.0.1/10.x/169.254.169.254 a moment later is
refused before a byte is sent, and never retried.

`fetch()` never raises for a network or HTTP problem: it returns a FetchResult whose `error` is a
short reason code (counted in the scrape summary) and `detail` the specifics.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import logging
import random
import socket
import threading
import time
import urllib.robotparser
from typing import Iterable
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.util.retry import Retry

from scrapers.specs import host_allowed

log = logging.getLogger(__name__)

ROBOTS_TOKEN = "gap_pipeline"
DEFAULT_CONTACT = "https://github.com/gap-pipeline/gap_pipeline"
REDIRECT_CODES = (301, 302, 303, 307, 308)
RETRY_STATUSES = (429, 500, 502, 503, 504)

# Reason codes a fetch can fail with (the scrape summary counts them).
REASONS = ("bad_url", "off_domain", "private_address", "dns", "robots", "timeout", "connection", "too_large",
           "truncated", "content_type", "redirect_loop", "too_many_redirects", "http_error", "budget", "bad_encoding")


@dataclasses.dataclass(frozen=True)
class ClientSettings:
    contact_url: str = DEFAULT_CONTACT
    user_agent: str = ""                  # default built from the package name and contact_url
    rate_limit_per_s: float = 1.0         # per host; 0 turns the limit off (robots Crawl-delay still holds)
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0          # per socket read
    request_deadline_s: float = 120.0     # whole exchange: connect + transport retries + headers + body
    retries: int = 4
    backoff_factor_s: float = 1.0         # sleeps factor * 2**(n-1), plus jitter
    backoff_jitter_s: float = 0.5
    backoff_max_s: float = 120.0
    max_retry_after_s: float = 300.0      # a longer Retry-After is capped (and logged)
    body_retries: int = 2                 # re-reads of a body cut short
    max_body_bytes: int = 64 * 1024 * 1024
    max_redirects: int = 5
    respect_robots: bool = True
    allow_loopback: bool = False          # tests only: permit 127.0.0.1 / ::1

    @property
    def ua(self) -> str:
        return self.user_agent or f"gap_pipeline/0.1 (medical corpus research crawler; +{self.contact_url})"


@dataclasses.dataclass
class FetchResult:
    url: str
    final_url: str = ""
    status: int = 0
    kind: str = ""                        # html | pdf | json | xml | text | other
    content: bytes = b""
    headers: dict = dataclasses.field(default_factory=dict)
    error: str | None = None              # a reason code from REASONS, None when fine
    detail: str = ""
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200

    @property
    def not_modified(self) -> bool:
        return self.error is None and self.status == 304


def classify_content_type(header: str | None, head: bytes = b"") -> str:
    """Map a Content-Type header (and the first bytes, for mislabelled PDFs) to a kind."""
    media = (header or "").split(";")[0].strip().lower()
    if head.startswith(b"%PDF"):
        return "pdf"
    if media in ("text/html", "application/xhtml+xml"):
        return "html"
    if media == "application/pdf" or media == "application/x-pdf":
        return "pdf"
    if media == "application/json" or media.endswith("+json"):
        return "json"
    if media in ("text/xml", "application/xml") or media.endswith("+xml"):
        return "xml"
    if media == "text/plain":
        return "text"
    return "other"


class RequestDeadline:
    """A wall-clock limit on one HTTP exchange: connect, transport retries, headers and the whole body.

    urllib3's timeouts are per socket operation, so a server that sends one byte every few seconds can
    hold a request for ever. A timer shuts the request's sockets down when the deadline passes, which
    wakes a blocked recv() at once; urllib3 retries and backoff sleeps stop at the deadline too (see
    PeerCheckedRetry). The deadline of the request a thread is making is found through `current()`."""

    _local = threading.local()

    def __init__(self, at: float, cause: str):
        self.at = at                  # time.monotonic() value
        self.cause = cause            # what the caller reports when it fires
        self.expired = False          # the deadline cut the exchange short (sockets shut, retries stopped)
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._timer = threading.Timer(max(0.0, at - time.monotonic()), self._fire)
        self._timer.daemon = True

    @classmethod
    def current(cls) -> "RequestDeadline | None":
        return getattr(cls._local, "deadline", None)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def __enter__(self) -> "RequestDeadline":
        self._local.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()
        self._timer.join()  # the timer thread is gone before the request's sockets are reused
        self._local.deadline = None

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if not self.expired:
                self._socks.append(sock)
                return
        _shutdown(sock)

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            socks, self._socks = self._socks, []
        for sock in socks:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


class PeerCheckedRetry(Retry):
    """urllib3 Retry that never retries a connect-time address refusal (it is not a transient fault),
    and neither retries nor sleeps past the current RequestDeadline."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        if isinstance(error, PrivateAddressRefused):
            raise MaxRetryError(_pool, url, error) from error
        deadline = RequestDeadline.current()
        if deadline is not None and deadline.remaining() <= 0:
            deadline.expired = True
            raise MaxRetryError(_pool, url, error)
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def sleep(self, response=None) -> None:
        deadline = RequestDeadline.current()
        if deadline is not None:
            wait = self.get_retry_after(response) if self.respect_retry_after_header and response else None
            wait = self.get_backoff_time() if wait is None else wait
            if wait >= deadline.remaining():  # the retry could not finish in time: stop now, not at the deadline
                deadline.expired = True
                raise MaxRetryError(None, "", TimeoutError(f"next retry in {wait:.1f}s would pass the request deadline"))
        super().sleep(response)


class _CappedRetry(PeerCheckedRetry):
    """urllib3 Retry that honours Retry-After but never waits longer than a cap."""
    max_retry_after_s = 300.0

    def parse_retry_after(self, retry_after: str) -> float:
        seconds = super().parse_retry_after(retry_after)
        if seconds > self.max_retry_after_s:
            log.warning("Retry-After of %.0fs capped at %.0fs", seconds, self.max_retry_after_s)
        return min(seconds, self.max_retry_after_s)

    def new(self, **kw):
        new = super().new(**kw)
        new.max_retry_after_s = self.max_retry_after_s
        return new


class HostRateLimiter:
    """Minimum spacing between requests to one host, shared by every client of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def wait(self, host: str, interval_s: float) -> None:
        if interval_s <= 0:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(host, 0.0))
            self._next[host] = slot + interval_s
        if slot > now:
            time.sleep(slot - now)


GLOBAL_RATE_LIMITER = HostRateLimiter()


def address_problem(host: str, allow_loopback: bool) -> str | None:
    """None if every address `host` resolves to is public; else a reason code."""
    return address_check(host, allow_loopback)[0]


def address_check(host: str, allow_loopback: bool) -> tuple[str | None, str]:
    """(reason code, detail) when `host` is or resolves to a non-public address, else (None, "")."""
    try:
        addresses = {ipaddress.ip_address(host.strip("[]"))}
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except socket.gaierror:
            return "dns", f"cannot resolve {host}"
        addresses = {ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos}
    for addr in sorted(addresses, key=lambda a: (a.version, int(a))):
        refusal = address_refusal(addr, allow_loopback)
        if refusal:
            return "private_address", f"{host} resolves to a {refusal}" if str(addr) != host.strip("[]") \
                else f"{host}: {refusal}"
    return None, ""


# IANA special-purpose ranges that are not globally reachable. `is_global` alone is not enough: its table
# differs between Python versions (3.11.7 calls 192.0.0.8, 64:ff9b:1::1 and ::ffff:100.64.0.1 global), and
# it knows nothing of the IPv4 address embedded in a 6to4 / Teredo / NAT64 address.
_NON_GLOBAL = tuple(ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/8", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32", "3fff::/20", "5f00::/16", "fc00::/7",
    "fe80::/10", "fec0::/10", "ff00::/8"))
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def address_refusal(addr: "ipaddress.IPv4Address | ipaddress.IPv6Address", allow_loopback: bool) -> str | None:
    """Why `addr` may not be connected to (a short phrase), or None when it is globally reachable.
    IPv6 addresses that carry an IPv4 address (mapped, 6to4, NAT64 well-known prefix) are judged by
    that IPv4 address; Teredo (2001::/32) is refused as a tunnel. `allow_loopback` (tests) admits
    127.0.0.0/8 and ::1 given directly, never through a tunnel form."""
    if addr.version == 6:
        embedded, how = None, ""
        if addr.ipv4_mapped is not None:
            embedded, how = addr.ipv4_mapped, "IPv4-mapped"
        elif addr.sixtofour is not None:
            embedded, how = addr.sixtofour, "6to4"
        elif addr in _NAT64:
            embedded, how = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF), "NAT64"
        elif addr.teredo is not None:
            return f"Teredo tunnel address {addr} (server {addr.teredo[0]}, client {addr.teredo[1]})"
        if embedded is not None:
            if how == "IPv4-mapped" and allow_loopback and embedded.is_loopback:
                return None
            inner = address_refusal(embedded, False)
            return f"{how} address {addr} embeds {inner}" if inner else None
    if allow_loopback and addr.is_loopback:
        return None
    for net in _NON_GLOBAL:
        if addr.version == net.version and addr in net:
            return f"non-public address {addr} (in {net})"
    if not addr.is_global or addr.is_multicast or addr.is_reserved or addr.is_unspecified:
        return f"non-public address {addr}"
    return None


def ip_allowed(addr: "ipaddress.IPv4Address | ipaddress.IPv6Address", allow_loopback: bool) -> bool:
    """False for every address that is not globally reachable (see `address_refusal`)."""
    return address_refusal(addr, allow_loopback) is None


class PrivateAddressRefused(NewConnectionError):
    """The socket reached a non-public address (DNS rebinding or a changed DNS answer)."""


class _PeerChecked:
    """Mixin for urllib3 connections: check the peer address of every new socket before using it."""
    allow_loopback = False

    def _new_conn(self):
        sock = super()._new_conn()
        try:
            peer = sock.getpeername()[0]
            addr = ipaddress.ip_address(str(peer).split("%")[0])
        except (OSError, ValueError) as exc:
            sock.close()
            raise PrivateAddressRefused(self, f"cannot read the peer address of {self.host}: {exc}") from exc
        refusal = address_refusal(addr, self.allow_loopback)
        if refusal:
            sock.close()
            raise PrivateAddressRefused(self, f"{self.host} connected to {refusal} (refused)")
        deadline = RequestDeadline.current()
        if deadline is not None:
            deadline.watch(sock)
        return sock

    def getresponse(self, *args, **kwargs):
        # A kept-alive connection skips _new_conn: its socket joins the request's deadline here.
        deadline = RequestDeadline.current()
        if deadline is not None and self.sock is not None:
            deadline.watch(self.sock)
        return super().getresponse(*args, **kwargs)


class _CheckedHTTPConnection(_PeerChecked, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_PeerChecked, HTTPSConnection):
    pass


class _LoopbackHTTPConnection(_CheckedHTTPConnection):
    allow_loopback = True


class _LoopbackHTTPSConnection(_CheckedHTTPSConnection):
    allow_loopback = True


def _pool_classes(allow_loopback: bool) -> dict[str, type]:
    http_conn = _LoopbackHTTPConnection if allow_loopback else _CheckedHTTPConnection
    https_conn = _LoopbackHTTPSConnection if allow_loopback else _CheckedHTTPSConnection
    return {"http": type("CheckedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type("CheckedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})}


class PeerCheckedAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections refuse non-public peer addresses at connect time."""

    def __init__(self, *args, allow_loopback: bool = False, **kwargs):
        self._allow_loopback = allow_loopback
        super().__init__(*args, **kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self._allow_loopback)

    def __setstate__(self, state):  # requests pickles adapters by their attributes
        self._allow_loopback = state.get("_allow_loopback", False)
        super().__setstate__(state)

    __attrs__ = HTTPAdapter.__attrs__ + ["_allow_loopback"]


def refused_by_peer_check(exc: BaseException) -> PrivateAddressRefused | None:
    """The PrivateAddressRefused inside a requests/urllib3 exception chain, if any."""
    seen = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if not isinstance(current, BaseException):
            continue
        if isinstance(current, PrivateAddressRefused):
            return current
        stack.extend([getattr(current, "reason", None), current.__cause__, current.__context__]
                     + [a for a in getattr(current, "args", ()) if isinstance(a, BaseException)])
    return None


def parse_crawl_delay(lines: list[str], token: str = ROBOTS_TOKEN) -> float | None:
    """Crawl-delay for `token` (else for *) as a float; the standard library only reads integers."""
    delays: dict[str, float] = {}
    agents: list[str] = []
    in_rules = False
    for raw in lines:
        line = raw.split("#", 1)[0].strip()
        if ":" not in line:
            continue
        key, value = (x.strip() for x in line.split(":", 1))
        key = key.lower()
        if key == "user-agent":
            if in_rules:
                agents, in_rules = [], False
            agents.append(value.lower())
        else:
            in_rules = True
            if key == "crawl-delay":
                try:
                    delay = float(value)
                except ValueError:
                    continue
                for agent in agents:
                    delays.setdefault(agent, delay)
    if token.lower() in delays:
        return delays[token.lower()]
    return delays.get("*")


class PoliteClient:
    """A requests.Session behind the gate described in the module docstring."""

    def __init__(self, allowed_domains: Iterable[str], settings: ClientSettings | None = None,
                 rate_limiter: HostRateLimiter | None = None):
        self.settings = settings or ClientSettings()
        self.allowed_domains = [d.lower() for d in allowed_domains]
        self.rate_limiter = rate_limiter or GLOBAL_RATE_LIMITER
        self._robots: dict[str, urllib.robotparser.RobotFileParser | None] = {}
        self._crawl_delay: dict[str, float | None] = {}
        self._robots_lock = threading.Lock()
        self._address_ok: dict[str, str | None] = {}
        self._address_detail: dict[str, str] = {}  # why a host was refused at connect time
        self.requests_made = 0
        # time.monotonic() after which no request may run (the crawler's per-source time budget), or None.
        self.stop_at: float | None = None
        s = self.settings
        retry = _CappedRetry(
            total=s.retries, connect=s.retries, read=s.retries, status=s.retries, other=0, redirect=0,
            backoff_factor=s.backoff_factor_s, backoff_jitter=s.backoff_jitter_s, backoff_max=s.backoff_max_s,
            status_forcelist=RETRY_STATUSES, allowed_methods=frozenset({"GET", "HEAD"}),
            respect_retry_after_header=True, raise_on_status=False, raise_on_redirect=False)
        retry.max_retry_after_s = s.max_retry_after_s
        self.session = requests.Session()
        adapter = PeerCheckedAdapter(max_retries=retry, pool_connections=4, pool_maxsize=4,
                                     allow_loopback=s.allow_loopback)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"User-Agent": s.ua, "Accept-Encoding": "gzip, deflate"})
        self.session.trust_env = False  # no proxies from the environment: the gate must see the real host

    def close(self) -> None:
        self.session.close()

    # -- the gate ------------------------------------------------------------------------------
    def check_url(self, url: str, *, robots: bool = True) -> tuple[str | None, str]:
        """(reason, detail) why `url` may not be fetched, or (None, "")."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return "bad_url", f"not an http(s) URL: {url[:200]}"
        host = parts.hostname.lower()
        netloc_host = f"{host}:{parts.port}" if parts.port else host
        if not (host_allowed(host, self.allowed_domains) or host_allowed(netloc_host, self.allowed_domains)):
            return "off_domain", f"{host} is not in allowed domains {self.allowed_domains}"
        if host not in self._address_ok:
            self._address_ok[host], detail = address_check(host, self.settings.allow_loopback)
            if detail:
                self._address_detail.setdefault(host, detail)
        problem = self._address_ok[host]
        if problem:
            return problem, self._address_detail.get(host) or f"{host}: non-public address"
        if robots and self.settings.respect_robots:
            rp = self._robots_for(parts.scheme, parts.netloc)
            if self._address_ok.get(host):  # the robots.txt connection found a non-public peer
                return self._address_ok[host], self._address_detail.get(host, f"{host}: non-public peer address")
            if rp is not None and not rp.can_fetch(ROBOTS_TOKEN, url):
                return "robots", f"robots.txt of {parts.netloc} disallows {parts.path or '/'}"
        return None, ""

    def _robots_for(self, scheme: str, netloc: str) -> urllib.robotparser.RobotFileParser | None:
        key = f"{scheme}://{netloc}"
        with self._robots_lock:
            if key in self._robots:
                return self._robots[key]
            result = self._get(f"{key}/robots.txt", accept=None, robots=False)
            rp = urllib.robotparser.RobotFileParser()
            if result.ok:
                lines = result.content.decode("utf-8", "replace").splitlines()
                rp.parse(lines)
                self._crawl_delay[key] = parse_crawl_delay(lines)
            elif result.error in (None, "http_error") and 400 <= result.status < 500:
                rp.parse([])  # RFC 9309: robots.txt unavailable (4xx) means no restriction
            else:
                # RFC 9309: unreachable (5xx, network error) means complete disallow.
                log.warning("robots.txt of %s unreachable (%s %s): treating the site as disallowed",
                            key, result.status, result.error)
                rp.parse(["User-agent: *", "Disallow: /"])
            self._robots[key] = rp
            return rp

    def interval_for(self, scheme: str, netloc: str) -> float:
        interval = 1.0 / self.settings.rate_limit_per_s if self.settings.rate_limit_per_s > 0 else 0.0
        if self.settings.respect_robots:
            delay = self._crawl_delay.get(f"{scheme}://{netloc}")
            if delay:
                interval = max(interval, float(delay))
        return interval

    # -- fetching ------------------------------------------------------------------------------
    def fetch(self, url: str, *, accept: Iterable[str] | None = ("html",), etag: str | None = None,
              last_modified: str | None = None) -> FetchResult:
        """GET `url` politely. `accept`: the kinds wanted (None: any). Conditional when etag/last_modified."""
        return self._get(url, accept=tuple(accept) if accept is not None else None, robots=True,
                         etag=etag, last_modified=last_modified)

    def _get(self, url: str, *, accept, robots: bool, etag=None, last_modified=None) -> FetchResult:
        started = time.monotonic()
        url = urlunsplit(urlsplit(url)._replace(fragment=""))
        seen = {url}
        current = url
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        for hop in range(self.settings.max_redirects + 1):
            reason, detail = self.check_url(current, robots=robots)
            if reason:
                return FetchResult(url, current, error=reason, detail=detail, elapsed_s=time.monotonic() - started)
            result = self._get_once(current, headers, accept)
            result.url, result.elapsed_s = url, time.monotonic() - started
            if result.error or result.status not in REDIRECT_CODES:
                return result
            location = result.headers.get("location") or result.headers.get("Location")
            if not location:
                result.error, result.detail = "http_error", f"HTTP {result.status} without Location"
                return result
            nxt = urlunsplit(urlsplit(urljoin(current, location))._replace(fragment=""))
            if nxt in seen:
                return FetchResult(url, nxt, status=result.status, error="redirect_loop",
                                   detail=f"{current} redirects back to {nxt}", elapsed_s=time.monotonic() - started)
            seen.add(nxt)
            current = nxt
        return FetchResult(url, current, error="too_many_redirects",
                           detail=f"more than {self.settings.max_redirects} redirects",
                           elapsed_s=time.monotonic() - started)

    def _get_once(self, url: str, headers: dict, accept) -> FetchResult:
        s = self.settings
        parts = urlsplit(url)
        last = FetchResult(url, url)
        for attempt in range(s.body_retries + 1):
            self.rate_limiter.wait(parts.netloc, self.interval_for(parts.scheme, parts.netloc))
            deadline = self._deadline()
            if deadline.remaining() <= 0:
                return FetchResult(url, url, error="budget", detail=deadline.cause)
            self.requests_made += 1
            with deadline:
                result = self._exchange(url, headers, accept, deadline)
            # A body cut by the timer may look complete (a close-delimited response): never keep it.
            if deadline.expired or (result.error is not None and deadline.remaining() <= 0):
                reason = "budget" if deadline.cause.startswith("source") else "timeout"
                return FetchResult(url, url, status=result.status, error=reason,
                                   detail=f"{deadline.cause} ({result.error}: {result.detail[:160]})")
            if result.error not in ("truncated",) or attempt == s.body_retries:
                return result
            last = result
            time.sleep(min(s.backoff_max_s, s.backoff_factor_s * (2 ** attempt)) + random.uniform(0, s.backoff_jitter_s))
        return last

    def _deadline(self) -> RequestDeadline:
        """The deadline of one exchange: request_deadline_s from now, or the source's budget if sooner."""
        s = self.settings
        at = time.monotonic() + s.request_deadline_s
        if self.stop_at is not None and self.stop_at < at:
            return RequestDeadline(self.stop_at, "source time budget exhausted")
        return RequestDeadline(at, f"request deadline of {s.request_deadline_s:g}s exceeded (connect + all reads)")

    def _exchange(self, url: str, headers: dict, accept, deadline: RequestDeadline) -> FetchResult:
        s = self.settings
        remaining = max(0.001, deadline.remaining())
        try:
            resp = self.session.get(url, headers=headers, stream=True, allow_redirects=False,
                                    timeout=(min(s.connect_timeout_s, remaining), min(s.read_timeout_s, remaining)))
        except requests.exceptions.RetryError as exc:
            return FetchResult(url, url, error="http_error", detail=f"retries exhausted: {exc}")
        except requests.exceptions.RequestException as exc:
            refused = refused_by_peer_check(exc)
            if refused is None:
                return self._request_error(url, exc)
            host = urlsplit(url).hostname.lower()
            detail = str(refused)[:300]
            self._address_ok[host] = "private_address"  # later URLs: refused early
            self._address_detail[host] = detail
            return FetchResult(url, url, error="private_address", detail=detail)
        return self._read(resp, url, accept)

    @staticmethod
    def _request_error(url: str, exc: requests.exceptions.RequestException) -> FetchResult:
        if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout)):
            return FetchResult(url, url, error="timeout", detail=str(exc)[:300])
        if isinstance(exc, requests.exceptions.ConnectionError):
            kind = "timeout" if "timed out" in str(exc).lower() else "connection"
            return FetchResult(url, url, error=kind, detail=str(exc)[:300])
        return FetchResult(url, url, error="connection", detail=str(exc)[:300])

    def _read(self, resp: requests.Response, url: str, accept) -> FetchResult:
        s = self.settings
        result = FetchResult(url, url, status=resp.status_code, headers=dict(resp.headers))
        try:
            if resp.status_code in REDIRECT_CODES or resp.status_code == 304:
                return result
            if resp.status_code != 200:
                result.error, result.detail = "http_error", f"HTTP {resp.status_code}"
                return result
            declared = resp.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > s.max_body_bytes:
                result.error = "too_large"
                result.detail = f"Content-Length {declared} exceeds max_body_bytes={s.max_body_bytes}"
                return result
            chunks, size = [], 0
            for chunk in resp.iter_content(chunk_size=64 * 1024):
                size += len(chunk)
                if size > s.max_body_bytes:
                    result.error = "too_large"
                    result.detail = f"body exceeds max_body_bytes={s.max_body_bytes} (stopped reading)"
                    return result
                chunks.append(chunk)
            result.content = b"".join(chunks)
        except requests.exceptions.ChunkedEncodingError as exc:
            result.error, result.detail = "truncated", f"body cut short: {str(exc)[:200]}"
            return result
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            result.error = "timeout" if "timed out" in str(exc).lower() else "truncated"
            result.detail = f"while reading body: {str(exc)[:200]}"
            return result
        except requests.exceptions.ContentDecodingError as exc:  # corrupt gzip/deflate body
            result.error = "bad_encoding"
            result.detail = f"Content-Encoding {resp.headers.get('Content-Encoding')!r} does not decode: {str(exc)[:200]}"
            return result
        except (requests.exceptions.RequestException, OSError) as exc:
            result.error = "truncated"
            result.detail = f"while reading body: {type(exc).__name__}: {str(exc)[:200]}"
            return result
        finally:
            resp.close()
        result.kind = classify_content_type(resp.headers.get("Content-Type"), result.content[:8])
        if accept is not None and result.kind not in accept:
            result.error = "content_type"
            result.detail = f"got {resp.headers.get('Content-Type')!r} ({result.kind}), expected {'/'.join(accept)}"
        return result
