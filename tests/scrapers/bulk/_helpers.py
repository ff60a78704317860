"""Packages built in the bulk-acquisition tests (tar.gz members, replay files) and a loopback downloader."""
from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from scrapers.bulk.download import BulkDownloader


def _tar(members: list[tuple[str, bytes]], links: list[tuple[str, str, bytes]] = ()) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
        for name, target, kind in links:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


def _downloader(tmp_path) -> BulkDownloader:
    return BulkDownloader([], tmp_path / "cache", allow_loopback=True, retries=0, timeout_s=10)


PLOS = ["journal.pone.0097541.xml", "journal.pone.0108198.xml", "journal.ppat.1005207.xml"]


FILELIST_HEADER = "Article File,AccessionID,LastUpdated (YYYY-MM-DD HH:MM:SS),PMID,License,Retracted\n"


def _replay_files(tmp_path: Path) -> list[str]:
    rows = [{"id": f"doc{i}", "text": ("word%d " % i) * (20 + i % 30), "license": "CC BY-SA"} for i in range(300)]
    jsonl = tmp_path / "a.jsonl.gz"
    jsonl.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows[:100]).encode()))
    pq.write_table(pa.Table.from_pylist(rows[100:200]), tmp_path / "b.parquet")
    with pa.ipc.new_file(str(tmp_path / "c.arrow"), pa.Table.from_pylist(rows[200:]).schema) as writer:
        writer.write_table(pa.Table.from_pylist(rows[200:]))
    return [str(jsonl), str(tmp_path / "b.parquet"), str(tmp_path / "c.arrow")]
