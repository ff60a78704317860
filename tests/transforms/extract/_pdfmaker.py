"""A tiny PDF writer (ligatures ffi/fi are real ligature glyphs, codes 30/31) for synthetic test documents: text runs at given positions and sizes (Helvetica,
no embedding), optional drawings, optional (unbreakable) encryption dictionary."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Run:
    x: float
    y: float
    text: str
    size: float = 10.0


@dataclass
class PageSpec:
    runs: list[Run] = field(default_factory=list)
    drawing: str = ""  # raw content-stream operators (e.g. an image-only page's rectangles)
    width: float = 612
    height: float = 792


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[PageSpec], *, encrypted: bool = False) -> bytes:
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
               b"/Encoding << /BaseEncoding /WinAnsiEncoding /Differences [30 /ffi /fi] >> >>")
    pages_id = len(objects) + 1 + 2 * len(pages) + 1  # reserved below
    page_ids = []
    for page in pages:
        ops = [page.drawing] if page.drawing else []
        for run in page.runs:
            ops.append(f"BT /F1 {run.size} Tf {run.x} {run.y} Td ({_escape(run.text)}) Tj ET")
        stream = "\n".join(ops).replace("\ufb03", "\x1e").replace("\ufb01", "\x1f").encode("cp1252")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        page_ids.append(add(
            f"<< /Type /Page /Parent {pages_id} 0 R /MediaBox [0 0 {page.width} {page.height}] "
            f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {content} 0 R >>".encode()))
    kids = " ".join(f"{i} 0 R" for i in page_ids)
    catalog = add(f"<< /Type /Catalog /Pages {pages_id} 0 R >>".encode())
    assert add(f"<< /Type /Pages /Kids [{kids}] /Count {len(page_ids)} >>".encode()) == pages_id
    encrypt = None
    if encrypted:
        # Standard security handler, RC4 40-bit, with O/U values no empty password can satisfy.
        encrypt = add(b"<< /Filter /Standard /V 1 /R 2 /Length 40 /P -44 /O <" + b"41" * 32 + b"> /U <"
                      + b"42" * 32 + b"> >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    trailer = f"trailer\n<< /Size {len(objects) + 1} /Root {catalog} 0 R"
    if encrypt:
        trailer += f" /Encrypt {encrypt} 0 R /ID [<{'ab' * 16}> <{'ab' * 16}>]"
    out += (trailer + " >>\nstartxref\n%d\n%%%%EOF\n" % xref).encode()
    return bytes(out)


def paragraph_runs(x: float, top: float, lines: list[str], size: float = 10.0, leading: float = 12.0) -> list[Run]:
    return [Run(x, top - i * leading, line, size) for i, line in enumerate(lines)]
