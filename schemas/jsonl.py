"""JSON Lines, read the one correct way: split on "\\n" only.

`str.splitlines()` also splits on U+2028, U+2029, U+0085, \\x0b, \\x0c and \\x1c-\\x1e, which JSON
allows unescaped inside strings (`json.dumps(..., ensure_ascii=False)` writes them as they are), so
a record holding one of them came out as two broken halves. Every JSONL reader in gap goes through
this module instead.
"""
from __future__ import annotations

import json
from typing import Any, Iterator

# JSON's own whitespace (RFC 8259): a line made only of these is blank. Anything else, even a lone
# U+2028, is handed to the parser, so it is an error with a line number rather than silently skipped.
_JSON_SPACE = " \t\r"


class JsonlError(ValueError):
    """A line that is not valid JSON; the message names the file (when given) and the line."""


def jsonl_lines(data: "str | bytes") -> Iterator[tuple[int, str]]:
    """(1-based line number, line) for every non-blank line of `data`, split on "\\n" only (a
    trailing "\\r" of CRLF files is dropped)."""
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8")
    for number, line in enumerate(data.split("\n"), 1):
        if line.endswith("\r"):
            line = line[:-1]
        if line.strip(_JSON_SPACE):
            yield number, line


def iter_jsonl(data: "str | bytes", where: str = "") -> Iterator[Any]:
    """The parsed value of every non-blank line; `JsonlError` naming `where` and the line number when
    one is not JSON."""
    for number, line in jsonl_lines(data):
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            place = f"{where} line {number}" if where else f"line {number}"
            raise JsonlError(f"{place}: invalid JSON: {exc.msg} (column {exc.colno})") from None


def read_jsonl(data: "str | bytes", where: str = "") -> list[Any]:
    """`iter_jsonl` as a list."""
    return list(iter_jsonl(data, where))


def jsonl_stream_lines(handle) -> Iterator[tuple[int, str]]:
    """`jsonl_lines` for an open text file, streamed (Python's text files split on line ends only,
    never on U+2028 & co.); the same blank-line rule."""
    for number, line in enumerate(handle, 1):
        line = line.rstrip("\r\n")
        if line.strip(_JSON_SPACE):
            yield number, line
