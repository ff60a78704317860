"""The extractors' options (from config section `extract`: `ExtractSettings.options` in transforms/settings.py;
tests and tools build them by hand, edge values included)."""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class ExtractOptions:
    citations: str = "tag"          # tag | remove
    tables: str = "linearize"       # linearize | caption | drop
    max_content_bytes: int = 64 * 1024 * 1024
    max_decompressed_bytes: int = 1 << 30   # gzip content is refused once this much came out (bomb guard)
    pdf_max_pages: int = 500
    pdf_timeout_s: int = 120
    pdf_isolation: str = "process"      # process: hard time limit in a child process | inline: between pages only
    pdf_max_text_chars: int = 20_000_000
