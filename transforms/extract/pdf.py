"""PDF -> structured plain text with pdfminer.six (one document per PDF).

pdfminer gives positioned text lines grouped into boxes; this module decides the rest:
- reading order: boxes are read top-down, and on pages with two columns the left column is read
  before the right one, between full-width boxes (titles, wide tables) that act as separators;
- running headers, footers and page numbers: lines in the top/bottom band of the page whose text
  (digits ignored) recurs on many pages are removed, as are bare page numbers there;
- end-of-line hyphenation is joined ("treat-" + "ment" -> "treatment"), ligatures (U+FB00..) are
  spelled out, `(cid:N)` glyph garbage is dropped;
- headings: boxes set in a font clearly larger than the body font become `#` / `##` lines;
- table debris: boxes made only of numbers are dropped; a lone recommendation number ("1.2.3")
  is glued to the paragraph that follows it.
Encrypted (password-protected), corrupt and image-only PDFs raise ExtractError (-> quarantine).
Limits per document: `options.pdf_max_pages`; PDF_MAX_TEXT_CHARS of extracted text (or
`options.pdf_max_text_chars` when the options carry it); and `options.pdf_timeout_s` as a hard
wall-clock limit: the pdfminer work runs in a reusable child process that is killed when it overruns
(see pdf_guard.py; GAP_PDF_ISOLATION=inline keeps it in-process, checked between pages only).
"""
from __future__ import annotations

import dataclasses
import io
import re
import time
from collections import Counter
from typing import Any

from schemas.document import Document, document_id
from schemas.events import Drop, extract_drop
from schemas.raw import RawRecord
from transforms.extract import pdf_guard
from transforms.extract.errors import ExtractError
from transforms.extract.options import ExtractOptions

PDF_MAX_TEXT_CHARS = 20_000_000  # ~40x a 500-page guideline; beyond that it is not a document we want

LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
             "\ufb05": "st", "\ufb06": "st", "\u00ad": "", "\u00a0": " ", "\u2002": " ", "\u2003": " ",
             "\u2009": " ", "\u200b": ""}
_LIGATURE_RE = re.compile("|".join(LIGATURES))
_CID = re.compile(r"\(cid:\d+\)")
_BULLET = re.compile(r"^\s*[•●▪■◦○‣∙·►▶➢✓\uf0b7\uf0a7\uf076\uf0d8]\s*")
_NUMBER_TOKEN = re.compile(r"^[(\[]?[-+±–−]?[\d.,:/%]+[)\]]?[%*†‡]?$|^[-–—.]+$")
_PAGE_NUMBER = re.compile(r"^\s*(?:page\s*)?\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?\s*$|^\s*[-–]\s*\d{1,4}\s*[-–]\s*$"
                          r"|^\s*[ivxlc]{1,6}\s*$", re.IGNORECASE)
_REC_NUMBER = re.compile(r"^\d{1,2}(?:\.\d{1,3}){1,3}\.?$")
_HYPHEN_END = re.compile(r"[A-Za-zÀ-ÿ]-$")
_DIGITS = re.compile(r"\d+")
_SPLIT = "\ue000"  # where a line-end hyphen was removed; resolved once the whole text is known
_SPLIT_WORD = re.compile(r"(\w+)" + _SPLIT + r"(\w+)")
_TOC_LINE = re.compile(r"(?:\.\s?){5,}\s*\d{1,4}\s*$")


def normalise_glyphs(text: str) -> str:
    """Ligatures spelled out, soft hyphens and zero-width spaces removed, `(cid:N)` garbage dropped."""
    return _CID.sub("", _LIGATURE_RE.sub(lambda m: LIGATURES[m.group(0)], text))


HEADING_RATIO = 1.15  # a line at least this much larger than the body text is set as a heading


@dataclasses.dataclass
class Line:
    text: str
    size: float
    x0: float
    y0: float
    x1: float
    y1: float


@dataclasses.dataclass
class Box:
    lines: list[Line]
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def text(self) -> str:
        return " ".join(line.text for line in self.lines)


@dataclasses.dataclass
class Page:
    number: int
    width: float
    height: float
    boxes: list[Box]


# ---------------------------------------------------------------------------------------------------
# Reading pdfminer's layout

def _line_size(line) -> float:
    from pdfminer.layout import LTChar
    sizes = [round(ch.size, 1) for ch in line if isinstance(ch, LTChar) and ch.get_text().strip()]
    if not sizes:
        return 0.0
    return Counter(sizes).most_common(1)[0][0]


def _layout_boxes(layout) -> list[Box]:
    from pdfminer.layout import LTFigure, LTTextBox, LTTextLine
    boxes: list[Box] = []

    def visit(obj) -> None:
        if isinstance(obj, LTTextBox):
            lines = []
            for line in obj:
                if not isinstance(line, LTTextLine):
                    continue
                text = normalise_glyphs(line.get_text()).strip()
                if text and not _TOC_LINE.search(text):  # table-of-contents entries repeat the headings
                    lines.append(Line(" ".join(text.split()), _line_size(line), line.x0, line.y0, line.x1, line.y1))
            boxes.extend(_split_at_size_changes(lines))
        elif isinstance(obj, LTFigure):
            pass  # text inside figures is chart labels: not prose
        elif hasattr(obj, "__iter__") and not isinstance(obj, LTTextLine):
            for child in obj:
                visit(child)

    visit(layout)
    return boxes


def _split_at_size_changes(lines: list[Line], ratio: float = HEADING_RATIO) -> list[Box]:
    """pdfminer puts a heading set close above (or below) body lines into their box; split a box where a
    heading-like run of lines (at most 3 lines and 20 words, not ending in . , ;) is `ratio` larger than
    the lines next to it, so the heading is a box of its own and never read as part of a paragraph. Other
    size changes inside a box stay together: sizes measured inside one paragraph wobble (a bullet glyph at
    9.5 pt decides a short line's most common size against 11 pt body text)."""
    runs: list[list[Line]] = []
    for line in lines:
        if runs and max(line.size, runs[-1][-1].size) < ratio * min(line.size, runs[-1][-1].size):
            runs[-1].append(line)
        else:
            runs.append([line])

    def heading_like(run: list[Line]) -> bool:
        text = " ".join(line.text for line in run)
        return len(run) <= 3 and len(text.split()) <= 20 and not text.rstrip().endswith((".", ",", ";"))

    groups: list[list[Line]] = []
    for i, run in enumerate(runs):
        if i and (heading_like(run) and run[0].size > runs[i - 1][0].size
                  or heading_like(runs[i - 1]) and runs[i - 1][0].size > run[0].size):
            groups.append(list(run))
        elif groups:
            groups[-1].extend(run)
        else:
            groups.append(list(run))
    return [Box(g, min(l.x0 for l in g), min(l.y0 for l in g), max(l.x1 for l in g), max(l.y1 for l in g))
            for g in groups]


def read_pages(content: bytes, *, max_pages: int, timeout_s: float,
               max_chars: int = PDF_MAX_TEXT_CHARS) -> tuple[list[Page], dict[str, str]]:
    """Positioned text of every page, plus the document info (title...). Raises ExtractError."""
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams
    from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser

    if b"%PDF-" not in content[:1024]:
        raise ExtractError("not a PDF (no %PDF- header)")
    started = time.monotonic()
    try:
        document = PDFDocument(PDFParser(io.BytesIO(content)))
    except (PDFPasswordIncorrect, PDFEncryptionError) as exc:
        raise ExtractError(f"encrypted PDF: {type(exc).__name__}") from exc
    except Exception as exc:  # pdfminer raises many unrelated types on broken files
        raise ExtractError(f"corrupt PDF: {type(exc).__name__}: {exc}") from exc
    try:
        page_objects = list(PDFPage.create_pages(document))
    except Exception as exc:
        raise ExtractError(f"corrupt PDF page tree: {type(exc).__name__}: {exc}") from exc
    if not page_objects:
        raise ExtractError("corrupt PDF: no pages")
    if len(page_objects) > max_pages:
        raise ExtractError(f"PDF has {len(page_objects)} pages, over pdf_max_pages={max_pages}")
    manager = PDFResourceManager(caching=True)
    params = LAParams(line_margin=0.5, char_margin=2.0, word_margin=0.1, boxes_flow=None)
    device = PDFPageAggregator(manager, laparams=params)
    interpreter = PDFPageInterpreter(manager, device)
    pages: list[Page] = []
    chars = 0
    for number, page in enumerate(page_objects, start=1):
        if time.monotonic() - started > timeout_s:
            raise ExtractError(f"PDF extraction exceeded {timeout_s}s (pdf_timeout_s) at page {number}")
        try:
            interpreter.process_page(page)
            layout = device.get_result()
        except MemoryError:
            raise ExtractError(f"out of memory on PDF page {number}") from None
        except Exception as exc:
            raise ExtractError(f"corrupt PDF content on page {number}: {type(exc).__name__}: {exc}") from exc
        pages.append(Page(number, float(layout.width), float(layout.height), _layout_boxes(layout)))
        chars += sum(len(line.text) + 1 for box in pages[-1].boxes for line in box.lines)
        if chars > max_chars:
            raise ExtractError(f"PDF text exceeds {max_chars} characters (pdf_max_text_chars) at page {number}")
    info: dict[str, str] = {}
    for entry in getattr(document, "info", []) or []:
        for key in ("Title", "Author", "Subject"):
            value = entry.get(key)
            if isinstance(value, bytes):
                value = _decode_pdf_string(value)
            if isinstance(value, str) and value.strip():
                info[key.lower()] = value.strip()
    return pages, info


def _decode_pdf_string(value: bytes) -> str:
    if value.startswith(b"\xfe\xff"):
        return value[2:].decode("utf-16-be", errors="replace")
    return value.decode("latin-1", errors="replace")


# ---------------------------------------------------------------------------------------------------
# Reading order

def order_boxes(boxes: list[Box], width: float) -> list[Box]:
    """Top-down, and column by column on two-column pages (full-width boxes separate the runs)."""
    boxes = sorted(boxes, key=lambda b: (-round(b.y1), b.x0))
    mid = width / 2
    slack = width * 0.04
    left = [b for b in boxes if b.x1 <= mid + slack]
    right = [b for b in boxes if b.x0 >= mid - slack and b.x1 > mid + slack]
    # Only a real two-column page: enough text on both sides.
    if sum(len(b.text) for b in left) < 200 or sum(len(b.text) for b in right) < 200:
        return boxes
    ordered: list[Box] = []
    run_left: list[Box] = []
    run_right: list[Box] = []
    for box in boxes:
        if box.x1 <= mid + slack:
            run_left.append(box)
        elif box.x0 >= mid - slack:
            run_right.append(box)
        else:  # spans both columns: closes the current run
            ordered += run_left + run_right
            run_left, run_right = [], []
            ordered.append(box)
    return ordered + run_left + run_right


# ---------------------------------------------------------------------------------------------------
# Running headers and footers

def _furniture_key(text: str) -> str:
    return _DIGITS.sub("0", " ".join(text.lower().split()))


def _in_margin(line: Line, page: Page, band: float = 0.1) -> bool:
    return line.y0 >= page.height * (1 - band) or line.y1 <= page.height * band


def running_lines(pages: list[Page], min_fraction: float = 0.3) -> set[str]:
    """Keys of lines in the top/bottom bands that recur on many pages (digits ignored)."""
    if len(pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for page in pages:
        keys = {_furniture_key(line.text) for box in page.boxes for line in box.lines if _in_margin(line, page)}
        counts.update(keys)
    needed = max(3, int(min_fraction * len(pages) + 0.999))
    return {key for key, n in counts.items() if n >= needed}


def _like_repeated(key: str, repeated: set[str]) -> bool:
    """The same running line wrapped differently on some page ("...terms-" / "and-conditions...")."""
    if key in repeated:
        return True
    for other in repeated:
        if len(other) >= 30 and len(key) >= 30 and key[:30] == other[:30]:
            return True
        if min(len(key), len(other)) >= 20 and (key.endswith(other) or other.endswith(key)):
            return True
    return False


def _is_furniture(line: Line, page: Page, repeated: set[str]) -> bool:
    key = _furniture_key(line.text)
    if _in_margin(line, page):
        return bool(_PAGE_NUMBER.match(line.text)) or _like_repeated(key, repeated)
    # A long running line can float up on a short last page: drop it wherever it appears.
    return len(key) >= 25 and key in repeated


def remove_furniture(pages: list[Page]) -> list[Page]:
    repeated = running_lines(pages)
    cleaned = []
    for page in pages:
        boxes = []
        for box in page.boxes:
            lines = [line for line in box.lines if not _is_furniture(line, page, repeated)]
            if lines:
                boxes.append(Box(lines, box.x0, min(l.y0 for l in lines), box.x1, max(l.y1 for l in lines)))
        cleaned.append(Page(page.number, page.width, page.height, boxes))
    return cleaned


# ---------------------------------------------------------------------------------------------------
# Text assembly

def is_number_debris(text: str) -> bool:
    tokens = text.split()
    return bool(tokens) and all(_NUMBER_TOKEN.match(t) for t in tokens) and not _REC_NUMBER.match(text.strip())


def join_lines(lines: list[str]) -> list[str]:
    """Lines of one box -> paragraphs/list items: hyphenation joined, bullets become `- ` items."""
    items: list[str] = []
    current = ""
    for line in lines:
        bullet = _BULLET.match(line)
        if bullet:
            if current:
                items.append(current)
            current = "- " + line[bullet.end():].strip()
            continue
        if not current:
            current = line
        elif _HYPHEN_END.search(current) and line[:1].islower():
            current = current[:-1] + _SPLIT + line
        else:
            current = current + " " + line
    if current:
        items.append(current)
    return [item for item in items if item.strip("- ")]


def body_font_size(pages: list[Page]) -> float:
    weights: Counter[float] = Counter()
    for page in pages:
        for box in page.boxes:
            for line in box.lines:
                if line.size:
                    weights[round(line.size * 2) / 2] += len(line.text)
    return weights.most_common(1)[0][0] if weights else 0.0


def _heading_sizes(pages: list[Page], body: float) -> dict[float, int]:
    sizes = sorted({round(line.size * 2) / 2 for page in pages for box in page.boxes for line in box.lines
                    if line.size >= body * HEADING_RATIO}, reverse=True)
    return {size: (1 if i == 0 else 2) for i, size in enumerate(sizes)}


def _is_heading(box: Box, body: float) -> bool:
    text = box.text
    return (body > 0 and all(line.size >= body * HEADING_RATIO for line in box.lines) and len(text.split()) <= 20
            and not text.rstrip().endswith((".", ",", ";")) and sum(c.isalpha() for c in text) >= 3
            and not re.search(r"www\.|https?:|@", text))


# A heading cannot end on these: its next line (a box of its own when set with wide leading) continues it.
_HEADING_OPEN_END = re.compile(r"(?:\b(?:and|or|of|with|for|the|in|to|on|an?|by|from|at|as|versus|vs)|[,&/\u2013-])$")


def _continues_heading(heading: str, text: str) -> bool:
    """A heading set on two lines that pdfminer made two boxes: "Salt, sodium and" + "potassium",
    "1.7 Monitoring for women with confirmed" + "endometriosis". Two headings in a row ("NICE guideline",
    "Published: 19 August 2021") stay apart: the second starts with a capital after a complete first."""
    return text[:1].islower() or bool(_HEADING_OPEN_END.search(heading))


def _page_key(page: Page) -> str:
    return " ".join(" ".join(box.text for box in page.boxes).lower().split())


def _alpha_words(text: str) -> int:
    return sum(1 for tok in text.split() if sum(c.isalpha() for c in tok) >= 2
               and sum(c.isalpha() for c in tok) >= 0.7 * len(tok))


def drop_cover_junk(pages: list[Page], cover_words: int = 40) -> list[Page]:
    """Cover pages: a page repeating an earlier page (cover + inner title page) is dropped, and on the
    sparse pages a document opens with (cover, inner title page: at most the first three, before any page
    of body text) boxes without two real words (document codes, logo letters) go. A short page after the
    body has begun is not a cover: its one-word heading ("Introduction") stays."""
    seen: set[str] = set()
    kept: list[Page] = []
    body_begun = False
    for page in pages:
        key = _page_key(page)
        if key and key in seen:
            continue
        seen.add(key)
        sparse = len(key.split()) <= cover_words
        body_begun = body_begun or not sparse
        if sparse and not body_begun and page.number <= 3:
            page = Page(page.number, page.width, page.height,
                        [box for box in page.boxes if _alpha_words(box.text) >= 2 or len(box.text.split()) > 3])
        kept.append(page)
    return kept


def pages_to_text(pages: list[Page]) -> str:
    pages = drop_cover_junk(remove_furniture(pages))
    body = body_font_size(pages)
    levels = _heading_sizes(pages, body)
    blocks: list[str] = []
    pending_number = ""
    pending_bullet = False
    open_heading: float | None = None  # size of the heading just emitted, until another block (a page break may
    # fall inside a heading: furniture between the two halves is gone by now)
    for page in pages:
        for box in order_boxes(page.boxes, page.width):
            text = box.text
            if _REC_NUMBER.match(text.strip()) and len(box.lines) == 1:
                pending_number = text.strip()  # "1.2.3" set apart from its recommendation
                continue
            if _BULLET.fullmatch(text):
                pending_bullet = True  # a bullet glyph in a box of its own: the item is the next box
                continue
            if is_number_debris(text):
                continue
            if _is_heading(box, body):
                size = round(max(line.size for line in box.lines) * 2) / 2
                level = levels.get(size, 2)
                heading = " ".join(text.split())
                if (open_heading == size and not pending_number
                        and _continues_heading(blocks[-1], heading)):
                    blocks[-1] += " " + heading
                    continue
                blocks.append("#" * level + " " + (f"{pending_number} " if pending_number else "") + heading)
                pending_number, pending_bullet = "", False
                open_heading = size
                continue
            open_heading = None
            items = join_lines([line.text for line in box.lines])
            if pending_number and items:
                items[0] = f"{pending_number} {items[0]}"
                pending_number = ""
            if pending_bullet and items and not items[0].startswith("- "):
                items[0] = "- " + items[0]
                pending_bullet = False
            blocks.extend(items)
    blocks = _merge_split_paragraphs(blocks)
    out: list[str] = []
    for i, block in enumerate(blocks):
        if i:
            out.append("\n" if block.startswith("- ") and blocks[i - 1].startswith("- ") else "\n\n")
        out.append(block)
    return resolve_hyphenation("".join(out))


_TERMINAL = (".", ":", "?", "!", ";")
_REC_LEAD = re.compile(r"^(\d{1,2}(?:\.\d{1,3}){1,3})\s+(.*)$", re.DOTALL)


def _join(first: str, second: str) -> str:
    if _HYPHEN_END.search(first) and second[:1].islower():
        return first[:-1] + _SPLIT + second
    return first + " " + second


def resolve_hyphenation(text: str) -> str:
    """"pre-" + "eclampsia" -> "pre-eclampsia" when the document itself spells it with a hyphen more
    often than without; otherwise the hyphen was typographic: "anticoagu-" + "lation" -> "anticoagulation"."""
    if _SPLIT not in text:
        return text
    lowered = text.lower()

    def decide(match: re.Match) -> str:
        first, second = match.group(1), match.group(2)
        hyphenated = f"{first}-{second}"
        if lowered.count(hyphenated.lower()) > lowered.count(f"{first}{second}".lower()):
            return hyphenated
        return first + second

    return _SPLIT_WORD.sub(decide, text).replace(_SPLIT, "")


def _plain(block: str) -> bool:
    return not block.startswith(("#", "- "))


def _merge_split_paragraphs(blocks: list[str]) -> list[str]:
    """Undo layout splits. A paragraph cut by a page, column or box break continues in the next
    block when it ends mid-sentence. NICE-style recommendation numbers sit in a margin column level
    with the *second* line, so pdfminer yields "Set up a ... confirmed" + "1.1.1 endometriosis, ...":
    the number is moved to the front of the paragraph it belongs to."""
    merged: list[str] = []
    for block in blocks:
        prev = merged[-1] if merged else ""
        rec = _REC_LEAD.match(block)
        if rec and prev and _plain(prev) and not _REC_LEAD.match(prev):
            number, rest = rec.groups()
            if rest.startswith("- "):
                merged[-1] = f"{number} {prev}"
                merged.append(rest)
                continue
            if not prev.rstrip().endswith(_TERMINAL) or rest[:1].islower():
                merged[-1] = f"{number} {_join(prev, rest)}"
                continue
        if prev and not prev.startswith("#") and not block.startswith(("#", "- ")) \
                and not prev.rstrip().endswith(_TERMINAL) and not rec:
            continues = block[:1].islower() or block[:1] in "(["
            ends_open = prev[-1:].islower() or prev[-1:] in ",-"
            if continues or (ends_open and _plain(prev)):
                merged[-1] = _join(prev, block)
                continue
        merged.append(block)
    return merged


def _word_count(pages: list[Page]) -> int:
    return sum(len(line.text.split()) for page in pages for box in page.boxes for line in box.lines)


# ---------------------------------------------------------------------------------------------------
# The pipeline entry point

@dataclasses.dataclass(frozen=True)
class PdfText:
    """What the (possibly isolated) pdfminer work hands back: small, so cheap to send between processes."""
    text: str
    pages: int
    info: dict[str, str]


def read_text(content: bytes, *, max_pages: int, timeout_s: float, max_chars: int = PDF_MAX_TEXT_CHARS) -> PdfText:
    """All of one PDF's work: pdfminer layout, then text assembly. Raises ExtractError."""
    pages, info = read_pages(content, max_pages=max_pages, timeout_s=timeout_s, max_chars=max_chars)
    if _word_count(pages) < 5 * 1 and all(not page.boxes for page in pages):
        raise ExtractError(f"image-only PDF: no text layer on any of its {len(pages)} pages")
    if _word_count(pages) < 5:
        raise ExtractError(f"image-only PDF: {_word_count(pages)} words of text on {len(pages)} pages")
    text = pages_to_text(pages)
    if len(text) > max_chars:
        raise ExtractError(f"PDF text of {len(text)} characters exceeds {max_chars} (pdf_max_text_chars)")
    return PdfText(text, len(pages), info)


def extract_pdf(raw: RawRecord, *, subset: str, options: ExtractOptions,
                rules: dict[str, Any] | None = None, isolation: str | None = None) -> list[Document | Drop]:
    """isolation: "process" | "inline"; None = GAP_PDF_ISOLATION, else options.pdf_isolation, else "process"."""
    mode = isolation or pdf_guard.isolation_mode(options)
    limits = {"max_pages": options.pdf_max_pages, "timeout_s": options.pdf_timeout_s,
              "max_chars": int(getattr(options, "pdf_max_text_chars", PDF_MAX_TEXT_CHARS))}
    result: PdfText = pdf_guard.run_limited(read_text, (raw.content,), limits, timeout_s=options.pdf_timeout_s,
                                            mode=mode)
    text, info = result.text, result.info
    meta = raw.meta_dict()
    doc_id = document_id(raw.source, raw.url)
    if not text.strip():
        return [extract_drop(raw, doc_id, subset, "no_text", detail="PDF text was all page furniture or table debris")]
    title = str(meta.get("title") or "") or info.get("title", "")
    if not title:
        first_heading = next((b for b in text.split("\n\n") if b.startswith("#")), "")
        title = first_heading.lstrip("# ").strip()
    meta.update({"extractor": "pdfminer", "pages": result.pages})
    return [Document(id=doc_id, source=raw.source, subset=subset, title=title, text=text, url=raw.url,
                     license=meta.get("license", raw.license),
                     meta=meta)]
