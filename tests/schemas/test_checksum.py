"""schemas/checksum.py: sha256 of a file or stream read in 1 MiB blocks, equal to hashing the bytes whole."""
from __future__ import annotations

import gzip
import hashlib
import io

import pytest

from schemas.checksum import sha256_file, sha256_stream

BLOCK = 1 << 20


@pytest.mark.parametrize("size", [0, 1, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 17])
def test_blocks_hash_like_the_whole_content_at_every_block_boundary(tmp_path, size):
    data = bytes((i * 7 + i // 251) % 256 for i in range(size))
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    want = hashlib.sha256(data).hexdigest()
    assert sha256_file(path) == want
    assert sha256_file(str(path)) == want  # str and Path alike
    assert sha256_stream(io.BytesIO(data)) == want


def test_the_empty_file_has_the_well_known_empty_digest(tmp_path):
    (tmp_path / "empty").write_bytes(b"")
    assert sha256_file(tmp_path / "empty") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_one_changed_byte_changes_the_digest_and_the_digest_is_stable(tmp_path):
    data = bytearray(b"x" * (BLOCK + 5))
    path = tmp_path / "f.bin"
    path.write_bytes(bytes(data))
    first = sha256_file(path)
    assert sha256_file(path) == first  # deterministic
    data[BLOCK + 2] ^= 1  # a change in the second block, past the first read
    path.write_bytes(bytes(data))
    assert sha256_file(path) != first
    assert len(first) == 64 and all(c in "0123456789abcdef" for c in first)


def test_a_gz_file_is_hashed_as_stored_not_decompressed(tmp_path):
    text = "naïve \u2028 text\n".encode("utf-8") * 1000
    path = tmp_path / "f.jsonl.gz"
    path.write_bytes(gzip.compress(text, mtime=0))
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert sha256_file(path) != hashlib.sha256(text).hexdigest()


def test_a_stream_is_hashed_from_where_it_stands_to_its_end():
    stream = io.BytesIO(b"header|payload")
    stream.seek(len(b"header|"))
    assert sha256_stream(stream) == hashlib.sha256(b"payload").hexdigest()
    assert sha256_stream(stream) == hashlib.sha256(b"").hexdigest()  # consumed


def test_a_missing_file_is_an_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.bin"):
        sha256_file(tmp_path / "nothere.bin")
