"""Replay from remote fsspec paths: an HTTP server on 127.0.0.1 and fsspec's in-memory filesystem
(gs:// and s3:// go through the same fsspec calls with gcsfs / s3fs installed)."""
from __future__ import annotations

import functools
import http.server
import io
import json
import threading
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scrapers.bulk.replay import sample_replay

REPLAY = Path(__file__).resolve().parents[3] / "gap_pipeline" / "sample_src" / "replay.jsonl"


def _rows():
    return [json.loads(line) for line in REPLAY.read_text(encoding="utf-8").splitlines()]


@pytest.fixture()
def http_folder(tmp_path):
    (tmp_path / "replay.jsonl").write_bytes(REPLAY.read_bytes())
    pq.write_table(pa.Table.from_pylist(_rows()), tmp_path / "replay.parquet")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _ids(records):
    return [json.loads(r.content)["id"] for r in records]


@pytest.mark.parametrize("name", ["replay.jsonl", "replay.parquet"])
def test_replay_over_http_equals_local(http_folder, tmp_path, name):
    local = _ids(sample_replay([str(tmp_path / name)], token_budget=3000, seed=7))
    remote = _ids(sample_replay([f"{http_folder}/{name}"], token_budget=3000, seed=7))
    assert remote == local
    assert 3 <= len(remote) < 40  # the budget really limits the sample
    assert len(set(remote)) == len(remote)


def test_replay_from_an_fsspec_memory_filesystem():
    fs = fsspec.filesystem("memory")
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(_rows()), buf)
    fs.pipe("/replay-test/part-0.parquet", buf.getvalue())
    fs.pipe("/replay-test/part-1.jsonl", REPLAY.read_bytes())
    records = list(sample_replay(["memory://replay-test/*"], token_budget=100_000, seed=1))
    # Both files, every row (the budget covers them), each row once per file.
    assert len(records) == 2 * len(_rows())
    assert {r.meta_dict()["replay_path"].rsplit("/", 1)[-1] for r in records} == {"part-0.parquet", "part-1.jsonl"}
