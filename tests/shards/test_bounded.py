"""The pipeline tail is bounded by configuration: packing buckets of about `bucket_tokens`, mixing on
row numbers, shards of about `target_bytes`, and the same bytes whatever the worker count."""
from __future__ import annotations

import collections
import math
import random

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to

from tests.shards.build import run_stages
from tests.shards.corpus import make_docs
from transforms.mix import Mix, NumberRows, copies_for, key_offsets, mixture_counts
from transforms.pack import Pack, bucket_count, bucket_key
from transforms.shards import WriteShards, read_shard, shard_of, stream_position

SEQ_LEN = 31


def _tokenized(n_docs: int, seed: int = 3, subsets=("papers", "abstracts")) -> list[tuple]:
    """(subset, split, doc_id, ids) of lengths 10..90, ids in [3, 500)."""
    rng = random.Random(seed)
    out = []
    for i in range(n_docs):
        subset = subsets[i % len(subsets)]
        split = "validation" if i % 10 == 0 else "train"
        out.append((subset, split, f"doc-{i:05d}", [rng.randrange(3, 500) for _ in range(rng.randint(10, 90))]))
    return out


def test_bucket_count_follows_the_tokens():
    assert bucket_count(0, 100) == 1
    assert bucket_count(100, 100) == 1
    assert bucket_count(101, 100) == 2
    assert bucket_count(48_000_000_000, 16 * 2**20) == 2862
    with pytest.raises(ValueError, match="bucket_tokens"):
        bucket_count(10, 0)
    with pytest.raises(ValueError, match="bucket_tokens"):
        Pack(SEQ_LEN, 0)


def test_bucket_sizes_are_bounded_by_the_target():
    docs = _tokenized(4000, subsets=("papers",))
    group_tokens = collections.Counter()
    for subset, split, _, ids in docs:
        group_tokens[(subset, split)] += len(ids)
    target = 2000
    per_bucket = collections.Counter()
    for element in docs:
        key, (_doc_id, ids) = bucket_key(element, group_tokens, target, seed=5)
        per_bucket[key] += len(ids)
    for group, tokens in group_tokens.items():
        sizes = [n for key, n in per_bucket.items() if key[:2] == group]
        # Every bucket number is used, the count is ceil(tokens / target), and no bucket is far past it.
        assert len(sizes) == math.ceil(tokens / target)
        assert {key[2] for key in per_bucket if key[:2] == group} == set(range(len(sizes)))
        assert max(sizes) <= 1.5 * target, (group, max(sizes))
        assert sum(sizes) / len(sizes) <= target
    # A bigger target gives fewer, bigger buckets: the count follows the target, not a constant.
    bigger = {bucket_key(e, group_tokens, 20 * target, seed=5)[0] for e in docs}
    assert len(bigger) == sum(math.ceil(t / (20 * target)) for t in group_tokens.values())


def test_bucket_key_checks_the_element_shape():
    with pytest.raises(ValueError, match="by_source=True"):
        bucket_key(("papers", "train", "d", [1, 2]), {}, 100, 0, by_source=True)
    with pytest.raises(ValueError, match="by_source=False"):
        bucket_key(("papers", "train", "d", [1, 2], "pmc"), {}, 100, 0)


def _pack_and_count(docs: list[tuple], bucket_tokens: int, workers: int, out):
    """Pack under Beam; returns (all rows as [key, ids, doc_ids] sorted, waste records sorted)."""
    import json

    from apache_beam.options.pipeline_options import PipelineOptions
    opts = {"direct_num_workers": workers}
    if workers > 1:
        opts["direct_running_mode"] = "multi_processing"  # as gap build; multi_threading lost elements (bench_tail)
    path = str(out)
    with beam.Pipeline(options=PipelineOptions.from_dictionary(opts)) as p:
        packed = p | beam.Create(docs, reshuffle=False) | Pack(SEQ_LEN, bucket_tokens, seed=9)
        rows = packed["rows"] | "Row" >> beam.Map(lambda r: json.dumps(
            ["row", [r["subset"], r["split"], r["bucket"], r["index"]], [int(i) for i in r["input_ids"]],
             r["doc_ids"]]))
        waste = packed["waste"] | "Waste" >> beam.Map(lambda w: json.dumps(["waste", list(w)]))
        (rows, waste) | beam.Flatten() | beam.io.WriteToText(path, shard_name_template="")
    found = [json.loads(line) for line in open(path).read().split("\n") if line]
    return sorted(f[1:] for f in found if f[0] == "row"), sorted(f[1] for f in found if f[0] == "waste")


def test_pack_groups_under_beam_are_bounded_and_worker_independent(tmp_path):
    docs = _tokenized(2000)
    target = 40 * (SEQ_LEN + 1)  # ~25 documents per bucket
    rows1, waste1 = _pack_and_count(docs, target, 1, tmp_path / "one.jsonl")
    tokens = collections.Counter()
    for subset, split, _, ids in docs:
        tokens[(subset, split)] += len(ids)
    expected_buckets = collections.Counter(bucket_key(e, tokens, target, seed=9)[0][:3] for e in docs)
    # One packing group per non-empty bucket (each emits one waste record): as many as the plain function
    # assigns, at most ceil(tokens / target) per (subset, split).
    groups = collections.Counter((w[0], w[1]) for w in waste1)
    assert sum(groups.values()) == len(expected_buckets)
    for group, n in tokens.items():
        assert groups[group] == math.ceil(n / target)
    # Every token is in a row or in its bucket's tail waste.
    per_group_rows = collections.Counter((key[0], key[1]) for key, _, _ in rows1)
    for group, n in tokens.items():
        wasted = sum(w[2] for w in waste1 if (w[0], w[1]) == group)
        assert per_group_rows[group] * (SEQ_LEN + 1) + wasted == n
    # A bucket holds about `target` tokens (hash-balanced, so up to about 1.5x here), never all of a group.
    per_bucket = collections.Counter(tuple(key[:3]) for key, _, _ in rows1)
    assert max(per_bucket.values()) * (SEQ_LEN + 1) <= 1.6 * target
    assert len(per_bucket) > 20
    rows2, waste2 = _pack_and_count(docs, target, 2, tmp_path / "two.jsonl")
    assert rows1 == rows2 and waste1 == waste2


def test_copy_numbers_cover_the_target_exactly():
    for n, target in ((10, 3), (10, 10), (10, 27), (7, 0), (1, 5)):
        slots = [c * n + p for p in range(n) for c in range(copies_for(p, n, target))]
        assert sorted(slots) == list(range(target))
    assert key_offsets({"b": 5, "a": 3, "c": 0}) == {"a": 0, "b": 3, "c": 8}


def _rows(spec: dict[tuple[str, int], int]) -> list[dict]:
    return [{"subset": subset, "split": "train", "bucket": bucket, "index": i, "input_ids": [1] * (SEQ_LEN + 1),
             "doc_ids": [f"{subset}-{bucket}-{i}"], "doc_starts": [0]}
            for (subset, bucket), n in spec.items() for i in range(n)]


def test_mix_numbers_every_copy_once_and_number_rows_keeps_pack_order():
    rows = _rows({("papers", 0): 7, ("papers", 1): 5, ("replay", 0): 2, ("abstracts", 2): 4})
    shares = {"papers": 0.5, "replay": 0.25, "abstracts": 0.25}
    with BeamTestPipeline() as p:
        pc = p | beam.Create(rows)
        mixed = pc | "Mix" >> Mix("shares", shares, {}, seed=4, seq_len=SEQ_LEN)
        orders = mixed | "MixOrder" >> beam.Map(lambda r: r["order"])
        # The mixed stream's rows are numbered 0..T-1, each once (T = 20: papers 10, replay 5, abstracts 5).
        total = sum(mixture_counts({"papers": 12, "replay": 2, "abstracts": 4}, "shares", shares).values())
        assert total == 20
        assert_that(orders, equal_to(list(range(total))), label="MixOrders")
        numbered = pc | "Number" >> NumberRows("subset")
        pairs = numbered | beam.Map(lambda r: (r["order"], (r["subset"], r["bucket"], r["index"])))
        expected = sorted((r["subset"], r["bucket"], r["index"]) for r in rows)
        assert_that(pairs, equal_to(list(enumerate(expected))), label="Numbered")


def test_stream_position_and_shard_runs():
    total, shards = 103, 7
    positions = [stream_position(o, total, "train", 1, shuffle=True) for o in range(total)]
    assert sorted(positions) == list(range(total)) and positions != list(range(total))
    assert [stream_position(o, total, "validation", 1, shuffle=False) for o in range(total)] == list(range(total))
    sizes = collections.Counter(shard_of(p, total, shards) for p in range(total))
    assert set(sizes) == set(range(shards)) and max(sizes.values()) - min(sizes.values()) <= 1
    with pytest.raises(ValueError, match="row number 103 outside"):
        stream_position(103, total, "train", 1, shuffle=True)


def test_shards_hold_about_target_bytes_and_match_across_workers(tmp_path):
    docs = make_docs(n_per_subset=25)
    target = 6000
    one = run_stages(docs, tmp_path / "one", seq_len=SEQ_LEN, bucket_tokens=600, target_bytes=target)
    two = run_stages(docs, tmp_path / "two", seq_len=SEQ_LEN, bucket_tokens=600, target_bytes=target, workers=2)
    assert [(s["path"], s["sha256"]) for s in one["shards"]] == [(s["path"], s["sha256"]) for s in two["shards"]]
    for split in ("train", "validation"):
        shards = [s for s in one["shards"] if s["split"] == split]
        assert len(shards) >= (4 if split == "train" else 2), split
        rows = [s["rows"] for s in shards]
        assert max(rows) - min(rows) <= 1  # equal runs of the stream
        # One row more than the average at most, plus the stream's schema and batch headers.
        row_bytes = max(s["bytes"] / s["rows"] for s in shards)
        assert all(s["bytes"] <= target + 2 * row_bytes + 2048 for s in shards), [s["bytes"] for s in shards]
    # The train stream is shuffled across shards (in stream order the first shard would be abstracts only).
    first = next(s for s in one["shards"] if s["split"] == "train")
    assert len(set(read_shard(str(tmp_path / "one" / first["path"])).column("subset").to_pylist())) > 1


def test_write_shards_names_rows_that_were_not_numbered(tmp_path):
    rows = _rows({("papers", 0): 3})
    with pytest.raises(Exception, match="has no 'order': number rows with Mix or NumberRows"):
        with BeamTestPipeline() as p:
            p | beam.Create(rows) | WriteShards(str(tmp_path / "train"), "train", SEQ_LEN, 600, 4096, seed=1)
