import json
import os

import pyarrow.parquet as pq
import pytest

from schemas.raw import RAW_SCHEMA, RawRecord
from schemas.raw_store import FSSPEC, list_parts, read_part, read_raw_store
from scrapers.raw_store import RawStoreError, RawStoreWriter, read_last_scrape


def rec(url, body, source="cdc", meta=None):
    return RawRecord.make(source=source, url=url, fetched_at="2026-01-01T00:00:00Z", content_type="html",
                          content=body, license="public-domain", meta=meta)


def test_parts_are_atomic_sorted_and_readable(tmp_path):
    with RawStoreWriter(tmp_path, "cdc", flush_records=2) as w:
        for i in range(5):
            assert w.add(rec(f"https://cdc.gov/{i}", f"body {i}".encode()))
    parts = list_parts(tmp_path)
    assert [os.path.basename(p) for p in parts] == ["part-000000.parquet", "part-000001.parquet", "part-000002.parquet"]
    assert pq.read_schema(parts[0]).equals(RAW_SCHEMA, check_metadata=False)
    urls = [r.url for r in read_raw_store(tmp_path)]
    assert urls == [f"https://cdc.gov/{i}" for i in range(5)]
    assert not [n for n in os.listdir(tmp_path / "cdc") if ".tmp-" in n]


def test_unchanged_page_not_rewritten_and_changed_page_supersedes(tmp_path):
    with RawStoreWriter(tmp_path, "cdc") as w:
        w.add(rec("https://cdc.gov/a", b"v1"))
        w.add(rec("https://cdc.gov/b", b"b"))
    with RawStoreWriter(tmp_path, "cdc") as w:
        assert w.stored("https://cdc.gov/a").sha256 == rec("x", b"v1").sha256
        assert w.add(rec("https://cdc.gov/a", b"v1")) is False
        assert w.add(rec("https://cdc.gov/a", b"v2")) is True
    assert len(list_parts(tmp_path)) == 2
    latest = {r.url: r.content for r in read_raw_store(tmp_path)}
    assert latest == {"https://cdc.gov/a": b"v2", "https://cdc.gov/b": b"b"}
    assert len(list(read_raw_store(tmp_path, all_versions=True))) == 3


def test_index_rebuilt_when_stale_and_orphan_temp_removed(tmp_path):
    with RawStoreWriter(tmp_path, "cdc") as w:
        w.add(rec("https://cdc.gov/a", b"a", meta={"http_etag": '"e1"'}))
    (tmp_path / "cdc" / "_index.json").write_text("{not json")
    (tmp_path / "cdc" / ".part-000001.parquet.tmp-dead").write_bytes(b"half a part")
    w = RawStoreWriter(tmp_path, "cdc")
    assert w.stored("https://cdc.gov/a").etag == '"e1"'
    assert not (tmp_path / "cdc" / ".part-000001.parquet.tmp-dead").exists()


def test_rejects_bad_records_and_names(tmp_path):
    with pytest.raises(RawStoreError):
        RawStoreWriter(tmp_path, "Bad Name")
    w = RawStoreWriter(tmp_path, "cdc")
    with pytest.raises(RawStoreError):
        w.add(rec("https://x", b"x", source="nice"))
    bad = RawRecord(source="cdc", url="u", fetched_at="t", content_type="html", content=b"x", sha256="0" * 64,
                    http_status=200, license="l", meta="{}")
    with pytest.raises(ValueError, match="sha256"):
        w.add(bad)


def test_list_parts_filters_sources_and_hidden(tmp_path):
    for source in ("cdc", "nice"):
        with RawStoreWriter(tmp_path, source) as w:
            w.add(rec(f"https://{source}/a", b"a", source=source))
    (tmp_path / "_scratch").mkdir()
    (tmp_path / "_scratch" / "x.parquet").write_bytes(b"")
    assert len(list_parts(tmp_path)) == 2
    assert [r.source for r in read_raw_store(tmp_path, sources=["nice"])] == ["nice"]
    with pytest.raises(RawStoreError):
        list_parts(tmp_path / "missing")


def test_last_scrape_summary_roundtrip(tmp_path):
    w = RawStoreWriter(tmp_path, "cdc")
    w.write_last_scrape({"fetched": 3, "failed": 1})
    assert read_last_scrape(tmp_path, "cdc") == {"fetched": 3, "failed": 1}
    assert read_last_scrape(tmp_path, "nice") is None


def test_fsspec_memory_root():
    root = "memory://gap-test-store"
    with RawStoreWriter(root, "cdc") as w:
        w.add(rec("https://cdc.gov/a", b"a"))
    parts = list_parts(root, files=FSSPEC)  # the scrapers' filesystem: Beam's has no memory://
    assert len(parts) == 1 and parts[0].startswith("memory://")
    assert [r.content for r in read_part(parts[0], files=FSSPEC)] == [b"a"]
    assert [r.url for r in read_raw_store(root, sources=["cdc"], files=FSSPEC)] == ["https://cdc.gov/a"]
