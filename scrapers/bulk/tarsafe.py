"""Streaming tar.gz reading that refuses unsafe members instead of trusting the archive.

Members are read in order from a non-seekable stream (`r|*`), so a multi-GB package never sits in
memory. Refused, with a reason: absolute paths and `..` components (path traversal), symbolic and
hard links, devices/FIFOs, members larger than the cap. Nothing is ever extracted to disk.
"""
from __future__ import annotations

import dataclasses
import posixpath
import tarfile
from typing import IO, Iterator


@dataclasses.dataclass(frozen=True)
class Member:
    name: str
    content: bytes


@dataclasses.dataclass(frozen=True)
class Refused:
    name: str
    reason: str  # path_traversal | link | special_file | too_large | corrupt


def refusal_reason(info: tarfile.TarInfo, max_member_bytes: int) -> str | None:
    name = info.name
    normalized = posixpath.normpath(name)
    if name.startswith("/") or normalized.startswith("..") or "/../" in f"/{name}/" or "\\" in name:
        return "path_traversal"
    if info.issym() or info.islnk():
        return "link"
    if not info.isfile() and not info.isdir():
        return "special_file"
    if info.isfile() and info.size > max_member_bytes:
        return "too_large"
    return None


def iter_tar(stream: IO[bytes], *, max_member_bytes: int = 256 << 20, suffixes: tuple[str, ...] = (".xml", ".nxml")
             ) -> Iterator[Member | Refused]:
    """Members whose names end with `suffixes` (others skipped silently: images, PDFs), or refusals."""
    try:
        with tarfile.open(fileobj=stream, mode="r|*") as archive:
            for info in archive:
                reason = refusal_reason(info, max_member_bytes)
                if reason:
                    yield Refused(info.name, reason)
                    continue
                if info.isdir() or not info.name.lower().endswith(suffixes):
                    continue
                handle = archive.extractfile(info)
                data = handle.read() if handle is not None else b""
                if len(data) != info.size:
                    yield Refused(info.name, "corrupt")
                    continue
                yield Member(info.name, data)
    except (tarfile.TarError, EOFError, OSError) as exc:
        yield Refused("<archive>", f"corrupt: {exc}")
