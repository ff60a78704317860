"""The one way files are checksummed (shards, tokenizer, exports): sha256 in 1 MiB blocks."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO


def sha256_stream(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def sha256_file(path: str | Path) -> str:
    with open(path, "rb") as stream:
        return sha256_stream(stream)
