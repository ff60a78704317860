"""A real HTTP server on 127.0.0.1 for scraper tests: static fixture pages plus fault handlers."""
from __future__ import annotations

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qsl, urlsplit

CTYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf", "json": "application/json",
          "xml": "text/xml; charset=utf-8", "text": "text/plain; charset=utf-8"}


def make_pdf(text: str) -> bytes:
    """A small valid one-page PDF showing `text` (enough for pdfminer)."""
    lines = [ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for ln in text.splitlines() or [""]]
    ops = "BT /F1 11 Tf 50 750 Td 14 TL " + " ".join(f"({ln}) Tj T*" for ln in lines) + " ET"
    objs = ["<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
            f"<< /Length {len(ops)} >>\nstream\n{ops}\nendstream",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, obj in enumerate(objs, 1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n{obj}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    for off in offsets:
        out += f"{off:010d} 00000 n \n".encode()
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def norm(path: str) -> tuple:
    """Route key: the path and the sorted query pairs (so %20 and + and parameter order agree)."""
    parts = urlsplit(path)
    return parts.path, tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))


class Page:
    def __init__(self, body: bytes | str, kind: str = "html", status: int = 200, headers: dict | None = None):
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.ctype = CTYPES.get(kind, kind)
        self.status = status
        self.headers = headers or {}
        self.etag = '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


class _Routes(dict):
    """A dict of routes keyed by norm(path)."""

    def __init__(self, routes):
        super().__init__()
        for k, v in routes.items():
            self[k] = v

    def __setitem__(self, key, value):
        super().__setitem__(norm(key), value)

    def get(self, key, default=None):
        return super().get(norm(key), default)


class FixtureServer:
    """routes: "/path?query" -> Page or callable(handler) that writes the response itself."""

    def __init__(self, routes: dict[str, Page | Callable] | None = None):
        self.routes = _Routes(routes or {})
        self.log: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else headers+body in two sends cost 40 ms of delayed ACK

            def log_message(self, *args):  # keep test output clean
                pass

            def do_GET(self):
                with outer.lock:
                    outer.log.append((self.path, dict(self.headers)))
                route = outer.routes.get(self.path)
                try:
                    if route is None:
                        self.send_simple(404, b"not found")
                    elif callable(route):
                        route(self)
                    else:
                        self.send_page(route)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def send_simple(self, status, body=b"", ctype="text/plain", headers=None):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def send_page(self, page: Page):
                if page.status == 200 and self.headers.get("If-None-Match") == page.etag:
                    self.send_response(304)
                    self.send_header("ETag", page.etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {"ETag": page.etag, **page.headers}
                self.send_simple(page.status, page.body, page.ctype, headers)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(1 for p, _ in self.log if norm(p) == norm(path))

    def paths(self) -> list[str]:
        with self.lock:
            return [p for p, _ in self.log]


# -- fault handlers ----------------------------------------------------------------------------
def flaky(statuses: list[int], then: Page, retry_after: str | None = None):
    """Answer with each status in turn (e.g. [503, 503]), then serve `then`."""
    remaining = list(statuses)
    lock = threading.Lock()

    def handler(h):
        with lock:
            status = remaining.pop(0) if remaining else None
        if status is None:
            h.send_page(then)
        else:
            h.send_simple(status, b"busy", headers={"Retry-After": retry_after} if retry_after else None)
    return handler


def slow(seconds: float, page: Page):
    def handler(h):
        time.sleep(seconds)
        h.send_page(page)
    return handler


def truncated(full: bytes, times: int | None = None, then: Page | None = None):
    """Promise len(full) bytes, send half, close. After `times` truncations serve `then`."""
    count = {"n": 0}

    def handler(h):
        count["n"] += 1
        if times is not None and count["n"] > times and then is not None:
            h.send_page(then)
            return
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", str(len(full)))
        h.end_headers()
        h.wfile.write(full[: len(full) // 2])
        h.wfile.flush()
        h.close_connection = True
        h.connection.shutdown(2)
    return handler


def huge(total_bytes: int, declare_length: bool, sent_counter: dict):
    """Stream `total_bytes` of HTML in 64 KiB chunks; counts what it managed to send."""
    def handler(h):
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        if declare_length:
            h.send_header("Content-Length", str(total_bytes))
        else:
            h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b"<p>" + b"x" * (64 * 1024 - 7) + b"</p>\n"
        sent = 0
        try:
            while sent < total_bytes:
                if declare_length:
                    h.wfile.write(chunk)
                else:
                    h.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sent += len(chunk)
                sent_counter["bytes"] = sent
            if not declare_length:
                h.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        h.close_connection = True
    return handler


def redirect(location: str, status: int = 302):
    def handler(h):
        h.send_simple(status, b"", headers={"Location": location})
    return handler


def drip(body: bytes, every_s: float, *, in_headers: bool = False, chunked: bool = False, sent: dict | None = None):
    """A slow-drip server: one byte of the body (or of the headers) every `every_s` seconds, each gap
    well under any read timeout, so only a whole-request deadline stops it. Stops when the client
    goes away; `sent["bytes"]` counts what it managed to send."""
    sent = sent if sent is not None else {}

    def handler(h):
        sent["bytes"] = 0
        try:
            if in_headers:
                head = (f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Pad: {'p' * 200}\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n").encode()
                for i in range(len(head)):
                    h.wfile.write(head[i:i + 1])
                    h.wfile.flush()
                    sent["bytes"] += 1
                    time.sleep(every_s)
                h.wfile.write(body)
                return
            h.send_response(200)
            h.send_header("Content-Type", "text/html")
            h.send_header("Transfer-Encoding" if chunked else "Content-Length", "chunked" if chunked else str(len(body)))
            h.end_headers()
            h.wfile.flush()
            for i in range(len(body)):
                piece = body[i:i + 1]
                h.wfile.write(b"1\r\n" + piece + b"\r\n" if chunked else piece)
                h.wfile.flush()
                sent["bytes"] += 1
                time.sleep(every_s)
            if chunked:
                h.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        h.close_connection = True
    return handler


def gzip_bomb(expanded_bytes: int, encoding: str = "gzip") -> bytes:
    """Zeros compressed ~1000:1 (gzip, or zlib-wrapped for `deflate`), built without holding them."""
    import zlib
    comp = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
    block = b"\0" * (1 << 20)
    out = [comp.compress(block) for _ in range(expanded_bytes >> 20)]
    return b"".join(out) + comp.flush()
