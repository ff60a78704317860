"""Deterministic writers: file count follows the data, names are fixed, content sorted, nothing lost."""
from __future__ import annotations

import apache_beam as beam

from gap_pipeline.outputs import WriteSorted, bucket_count, encode_jsonl


def _write(tmp_path, items, target, workers=1):
    args = ["--runner=FnApiRunner"]
    if workers > 1:
        args += [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]
    with beam.Pipeline(argv=args) as p:
        (p | beam.Create(items) | WriteSorted(str(tmp_path), "part", lambda s: s, encode_jsonl, ".jsonl",
                                              size=len, target_bytes=target))
    return sorted(tmp_path.iterdir())


def test_file_count_follows_the_data_and_every_record_is_written_once(tmp_path):
    items = [f"record-{i:04d}-" + "x" * (i % 17) for i in range(500)]
    total = sum(map(len, items))
    files = _write(tmp_path / "a", items, target=total // 6)
    assert len(files) == bucket_count(total, total // 6) == 7
    assert [f.name for f in files] == [f"part-{i:05d}-of-00007.jsonl" for i in range(7)]
    lines = [l for f in files for l in f.read_text().splitlines()]
    assert sorted(lines) == sorted(items)
    for f in files:  # sorted inside each file
        content = f.read_text().splitlines()
        assert content == sorted(content)


def test_same_bytes_with_two_workers_and_empty_input_gives_one_empty_file(tmp_path):
    items = [f"r{i}" for i in range(300)]
    one = _write(tmp_path / "one", items, target=200)
    two = _write(tmp_path / "two", items, target=200, workers=2)
    assert [f.read_bytes() for f in one] == [f.read_bytes() for f in two]
    empty = _write(tmp_path / "empty", [], target=200)
    assert [f.name for f in empty] == ["part-00000-of-00001.jsonl"] and empty[0].read_bytes() == b""
