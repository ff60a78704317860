"""schemas/raw_store.py: the one raw-store reader, through Beam's filesystems (the build) and fsspec's
(the scrapers) alike."""
from __future__ import annotations

import hashlib
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.raw import RAW_SCHEMA, RawRecord
from schemas.raw_store import (BEAM, FSSPEC, RawStoreError, iter_raw_rows, latest_versions, list_parts, read_part,
                               read_raw_store)


def _row(url: str, content: bytes = b"text", source: str = "cdc") -> dict:
    return RawRecord.make(source=source, url=url, fetched_at="2026-01-01T00:00:00Z", content_type="text",
                          content=content, license="public-domain").to_row()


def _part(path, rows) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=RAW_SCHEMA), path)
    return str(path)


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "store"
    _part(root / "cdc" / "part-000000.parquet", [_row("a", b"old"), _row("b")])
    _part(root / "cdc" / "part-000001.parquet", [_row("a", b"new")])
    _part(root / "nice" / "part-000000.parquet", [_row("n", source="nice")])
    # Not parts: a temp file, a cache folder, a hidden folder (even inside a source's folder).
    _part(root / "cdc" / ".part-000002.parquet.tmp-dead", [_row("t")])
    (root / "cdc" / ".part-000003.parquet").write_bytes(b"half written")
    (root / "cdc" / "_bulk").mkdir()
    (root / "cdc" / "_bulk" / "download.parquet").write_bytes(b"not a raw part")
    (root / ".trash").mkdir()
    (root / ".trash" / "part-000000.parquet").write_bytes(b"deleted")
    return root


def _names(root, parts):
    return [os.path.relpath(p.split("://", 1)[-1], str(root)) for p in parts]


def test_both_filesystems_list_the_same_parts(store):
    expected = ["cdc/part-000000.parquet", "cdc/part-000001.parquet", "nice/part-000000.parquet"]
    assert _names(store, list_parts(store)) == expected
    assert _names(store, list_parts(store, files=FSSPEC)) == expected
    assert _names(store, list_parts(store, sources=["nice"])) == ["nice/part-000000.parquet"]
    # A build checks every part it lists: the temp files and caches above would fail that check.
    assert list_parts(store, check=True) == list_parts(store)


def test_newest_version_of_each_page_in_part_then_row_order(store):
    assert {(r.url, r.content) for r in read_raw_store(store)} == {("a", b"new"), ("b", b"text"), ("n", b"text")}
    assert [r.url for r in read_raw_store(store, all_versions=True)] == ["a", "b", "a", "n"]
    assert latest_versions(list_parts(store, files=FSSPEC), files=FSSPEC) == {(0, 1), (1, 0), (2, 0)}
    assert [r.url for r in read_raw_store(store, files=FSSPEC)] == [r.url for r in read_raw_store(store)]


def test_a_single_part_file_is_a_store(store):
    part = str(store / "cdc" / "part-000001.parquet")
    assert list_parts(part) == [part]
    assert [r.content for r in read_raw_store(part)] == [b"new"]


def test_store_errors_name_what_is_wrong(tmp_path):
    with pytest.raises(RawStoreError, match="raw store not found: .*nope"):
        list_parts(tmp_path / "nope")
    with pytest.raises(RawStoreError, match="raw store not found"):
        list_parts(tmp_path / "nope", files=FSSPEC)
    assert list_parts(tmp_path) == []
    with pytest.raises(RawStoreError, match="holds no Parquet parts"):
        list_parts(tmp_path, check=True)
    _part(tmp_path / "cdc" / "part-000000.parquet", [_row("a")])
    (tmp_path / "cdc" / "part-000001.parquet").write_bytes(b"PAR1 not parquet")
    assert len(list_parts(tmp_path)) == 2  # listing alone does not open the parts
    with pytest.raises(RawStoreError, match="part-000001.parquet is unreadable"):
        list_parts(tmp_path, check=True)
    os.remove(tmp_path / "cdc" / "part-000001.parquet")
    pq.write_table(pa.table({"url": ["x"]}), tmp_path / "cdc" / "part-000002.parquet")
    with pytest.raises(RawStoreError, match="part-000002.parquet: raw store file lacks column 'source'"):
        list_parts(tmp_path, check=True)


def test_an_unknown_scheme_is_a_listing_error():
    with pytest.raises(RawStoreError, match="raw store nosuchfs://bucket/raw cannot be listed"):
        list_parts("nosuchfs://bucket/raw", files=BEAM)


def test_invalid_rows_are_reported_with_their_number(tmp_path):
    rows = [_row("ok"), _row("badsum"), _row("after")]
    rows[1]["sha256"] = hashlib.sha256(b"other").hexdigest()
    part = _part(tmp_path / "cdc" / "part-000000.parquet", rows)
    got = list(iter_raw_rows(part))
    assert [(r.row_number, r.record is None, r.row["url"]) for r in got] == [(0, False, "ok"), (1, True, "badsum"),
                                                                             (2, False, "after")]
    assert "sha256 mismatch" in got[1].error
    with pytest.raises(RawStoreError, match=r"part-000000.parquet row 1: raw record sha256 mismatch for badsum"):
        list(read_part(part))


def test_rows_are_read_in_batches_without_losing_any(tmp_path):
    rows = [_row(f"u{i}", str(i).encode()) for i in range(1000)]
    part = _part(tmp_path / "cdc" / "part-000000.parquet", rows)
    assert [r.url for r in read_part(part)] == [f"u{i}" for i in range(1000)]
    assert [r.url for r in read_part(part, files=FSSPEC)] == [f"u{i}" for i in range(1000)]


def test_importing_the_reader_needs_only_pyarrow():
    """schemas/ is importable where only pyarrow is (a training image): Beam and fsspec load when used."""
    import subprocess
    import sys
    code = ("import sys, schemas.raw_store\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'apache_beam', 'fsspec'}))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stdout + proc.stderr
