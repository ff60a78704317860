"""The pipeline tail holds a bounded amount whatever the corpus size: each part's rows are routed in shard
order and a shard gathers one contiguous range per part (transforms/shards.py), checked against an
independent reference, and the whole tail under Beam for worker independence. Packing, the mixture plan
and row files, the tail's other bounded pieces: test_pack.py, test_mix.py, test_rowfiles.py."""
from __future__ import annotations

import collections
import random

import pyarrow as pa
import pytest

from testkit.tail_build import run_stages
from testkit.shard_docs import make_docs
from tests.transforms._tail import SEQ_LEN, VOCAB
from transforms.mix import mixture_key, plan_mixture, row_orders
from transforms.pack import Packer, estimated_row_bytes
from transforms.rowfiles import RowFileError, RowWriter, read_rows, row_file, row_schema
from transforms.shards import (read_shard, route_part, shard_count, shard_layout, shard_of, stream_position,
                               write_shard)
from transforms.split import TRAIN, VALIDATION


def test_stream_position_and_shard_runs():
    total, shards = 103, 7
    positions = [stream_position(o, total, "train", 1, shuffle=True) for o in range(total)]
    assert sorted(positions) == list(range(total)) and positions != list(range(total))
    assert [stream_position(o, total, "validation", 1, shuffle=False) for o in range(total)] == list(range(total))
    sizes = collections.Counter(shard_of(p, total, shards) for p in range(total))
    assert set(sizes) == set(range(shards)) and max(sizes.values()) - min(sizes.values()) <= 1
    with pytest.raises(ValueError, match="row number 103 outside"):
        stream_position(103, total, "train", 1, shuffle=True)


# --------------------------------------------------------------------------- routing and shard writing


def _write_row_files(folder, parts: int, seed: int = 4):
    """Pack random documents per part into row files as PackPart does; returns the plan records."""
    rng = random.Random(seed)
    records = []
    for part in range(parts):
        writer = RowWriter(row_file(str(folder), part), row_schema(SEQ_LEN, VOCAB), VOCAB)
        for subset in ("papers", "abstracts", "replay"):
            for split in (TRAIN, VALIDATION):
                packer, n, size = Packer(SEQ_LEN), 0, 0
                count = rng.randint(3, 30) if split == TRAIN else rng.randint(1, 6)
                for i in range(count):
                    ids = [rng.randrange(3, VOCAB) for _ in range(rng.randint(5, 120))]
                    for row in packer.add(f"{subset}-{split}-{part}-{i}", ids):
                        row.update(subset=subset, split=split, source="", index=n)
                        n += 1
                        size += estimated_row_bytes(row, 2)
                        writer.add(row)
                if n:
                    records.append(((split, subset, "", part), (n, size)))
        writer.close()
    return records


def _route_and_write(tmp_path, parts: int, target: int, seed: int = 9):
    rows_dir, routed_dir, out = tmp_path / "rows", tmp_path / "routed", tmp_path / "out"
    records = _write_row_files(rows_dir, parts)
    plan = plan_mixture(sorted(records), "shares", {"papers": 0.6, "abstracts": 0.3, "replay": 0.1}, {}, SEQ_LEN)
    groups = collections.defaultdict(list)
    for part in range(parts):
        for (split, shard), piece in route_part(part, row_file(str(rows_dir), part), row_file(str(routed_dir), part),
                                                plan, seed, "subset", target):
            groups[(split, shard)].append(piece)
    infos = {key: write_shard(key[0], key[1], ranges, str(routed_dir), str(out / key[0]), plan, target, SEQ_LEN,
                              VOCAB, False)
             for key, ranges in sorted(groups.items())}
    return plan, records, groups, infos, (rows_dir, routed_dir, out)


def test_routed_parts_give_shards_that_are_consecutive_runs_of_the_stream(tmp_path):
    parts, target, seed = 3, 8192, 9
    plan, records, groups, infos, (rows_dir, routed_dir, out) = _route_and_write(tmp_path, parts, target, seed)
    # The expected stream, computed row by row from the row files: (position -> row's identity).
    expected = {TRAIN: {}, VALIDATION: {}}
    for part in range(parts):
        table = read_rows(row_file(str(rows_dir), part))
        for row in table.to_pylist():
            key, bucket = mixture_key(row["subset"], row["source"], part, "subset")
            total = plan[row["split"]]["rows"]
            for order in row_orders(plan, row["split"], key, bucket, row["index"], seed):
                position = stream_position(order, total, row["split"], seed, row["split"] == TRAIN)
                assert position not in expected[row["split"]]
                expected[row["split"]][position] = (row["doc_ids"], row["input_ids"])
    for split in (TRAIN, VALIDATION):
        shards, total = shard_layout(plan, split, target)
        assert shards == shard_count(plan[split]["bytes"], total, target) and total == len(expected[split])
        assert shards >= (3 if split == TRAIN else 1)
        # Every shard exists, fed by at most one range per part.
        assert sorted(i for s, i in groups if s == split) == list(range(shards))
        for (s, _), ranges in groups.items():
            if s == split:
                assert len({r[0] for r in ranges}) == len(ranges)
        stream = []
        sizes = []
        for index in range(shards):
            info = infos[(split, index)]
            table = read_shard(str(out / info["path"]))
            assert table.num_rows == info["rows"] == sum(r[2] for r in groups[(split, index)])
            sizes.append(table.num_rows)
            stream += list(zip(table.column("doc_ids").to_pylist(), table.column("input_ids").to_pylist()))
        assert max(sizes) - min(sizes) <= 1  # equal runs, +-1 row
        assert stream == [expected[split][p] for p in range(total)]
    # The train stream is shuffled across subsets (in order it would be abstracts, then papers, then replay).
    first = read_shard(str(out / infos[(TRAIN, 0)]["path"]))
    assert len(set(first.column("subset").to_pylist())) > 1


def test_a_damaged_routed_file_is_a_clear_error(tmp_path):
    plan, _records, groups, _infos, (_rows, routed_dir, out) = _route_and_write(tmp_path, 2, 8192)
    key, ranges = next((k, r) for k, r in sorted(groups.items()) if k[0] == TRAIN and len(r) == 2)
    path = row_file(str(routed_dir), 1)
    good = open(path, "rb").read()

    def write():
        return write_shard(key[0], key[1], ranges, str(routed_dir), str(out / "again"), plan, 8192, SEQ_LEN,
                           VOCAB, False)

    # Truncated (a disk that filled up, a copy cut short): named, not Arrow's bare "Not an Arrow file".
    with open(path, "wb") as fh:
        fh.write(good[: len(good) // 2])
    with pytest.raises(RowFileError, match=r"part-000001\.arrow: not a complete row file"):
        write()
    # A valid file with rows missing: the shard's positions are not covered.
    table = pa.ipc.open_file(pa.BufferReader(good)).read_all()
    with open(path, "wb") as fh, pa.ipc.new_file(fh, table.schema) as writer:
        writer.write_table(table.slice(1))
    with pytest.raises(ValueError, match=r"train shard \d+: routed rows do not cover its stream positions"):
        write()
    # Gone: the path is named.
    import os
    os.remove(path)
    with pytest.raises((FileNotFoundError, OSError), match="part-000001.arrow"):
        write()


# --------------------------------------------------------------------------- the tail under Beam


def test_shards_hold_about_target_bytes_and_match_across_workers(tmp_path):
    docs = make_docs(n_per_subset=25)
    target = 6000
    one = run_stages(docs, tmp_path / "one", seq_len=SEQ_LEN, target_bytes=target)
    two = run_stages(docs, tmp_path / "two", seq_len=SEQ_LEN, target_bytes=target, workers=2)
    assert [(s["path"], s["sha256"]) for s in one["shards"]] == [(s["path"], s["sha256"]) for s in two["shards"]]
    for s in one["shards"]:
        assert (tmp_path / "one" / s["path"]).read_bytes() == (tmp_path / "two" / s["path"]).read_bytes()
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


def test_tiny_targets_account_for_every_token_and_verify(tmp_path, capsys):
    """seq_len 8 and 4 KiB shards over 4 documents parts: every tokenized token is in a packed row or in its
    (part, group)'s tail waste, which is less than one row per (part, group); the rows packed are the rows
    mixed and written; and the corpus passes `gap verify`."""
    from testkit.tail_build import build_fake_out, run_verify

    seq_len, parts = 8, 4
    docs = make_docs(n_per_subset=10)
    res = build_fake_out(docs, tmp_path, seq_len=seq_len, target_bytes=4096, parts=parts)
    code, text = run_verify(tmp_path, capsys)
    assert code == 0, text
    width = seq_len + 1
    tokens, waste = collections.Counter(), collections.Counter()
    for key, (_docs, _chars, n) in res["stats"].items():
        kind, *rest = key.split("\t")
        if kind == "tokens":
            tokens[(rest[1], rest[2])] += n
        elif kind == "pack_waste":
            waste[(rest[0], rest[1])] += n
    counters = res["counters"]
    assert sum(tokens.values()) > 10_000
    from transforms.split import assign_split
    groups_per_subset_split = collections.Counter()
    # The (part, group)s that received documents (run_stages spreads them round robin over the parts).
    seen = {(i % parts, d.subset, assign_split(d.id, d.subset, res["config"].split.validation_fraction,
                                               res["config"].seed)) for i, d in enumerate(docs)}
    for _part, subset, split in seen:
        groups_per_subset_split[(subset, split)] += 1
    for (subset, split), n in tokens.items():
        rows = counters.get(f"pack:rows_{subset}_{split}", 0)
        assert rows * width + waste[(subset, split)] == n, (subset, split)
        assert waste[(subset, split)] < groups_per_subset_split[(subset, split)] * width
    # The rows packed are the rows planned; validation rows are written once each, train rows as mixed.
    mixture = res["mixture"]
    shard_rows = collections.Counter()
    for shard in res["shards"]:
        for subset, n in shard["subset_rows"].items():
            shard_rows[(subset, shard["split"])] += n
    for subset, entry in mixture["subsets"].items():
        assert entry["available_rows"] == counters.get(f"pack:rows_{subset}_train", 0)
        assert shard_rows[(subset, "train")] == entry["rows"]
    for (subset, split), n in shard_rows.items():
        if split == "validation":
            assert n == counters[f"pack:rows_{subset}_validation"]
    assert counters["shards:rows_train"] == mixture["train_rows"]
    assert len([s for s in res["shards"] if s["split"] == "train"]) >= 10
    assert all(s["bytes"] <= 4096 + 2048 for s in res["shards"]), [s["bytes"] for s in res["shards"]]


def test_parts_without_documents_or_without_a_full_row(tmp_path):
    """Documents parts that are empty (every document dropped earlier) or hold less than one row still get
    (empty) row files and routed files; the shards hold exactly the rows packed and mixed."""
    docs = make_docs(n_per_subset=4)
    docs.append(docs[0].replace(id="tiny", text="dose"))  # alone in the last part: less than one row
    parts = 21   # 17 documents: parts 17..20 empty, part 16 holds only the tiny one
    res = run_stages(docs, tmp_path, seq_len=16, parts=parts, target_bytes=4096)
    routed = [read_rows(row_file(str(tmp_path / "_build" / "work" / "tokens" / "routed"), n)) for n in range(parts)]
    assert [t.num_rows for t in routed[16:]] == [0] * 5  # part 16: the tiny document (BOS + 1-2 ids + EOS)
    counters, mixture = res["counters"], res["mixture"]
    train = sum(s["rows"] for s in res["shards"] if s["split"] == "train")
    validation = sum(s["rows"] for s in res["shards"] if s["split"] == "validation")
    assert train == mixture["train_rows"] == counters["shards:rows_train"] > 0
    assert validation == sum(v for k, v in counters.items() if k.startswith("pack:rows_") and k.endswith("_validation"))
    assert sum(t.num_rows for t in routed) == train + validation  # every row copy routed once
    # Every token is in a packed row or in its (part, group)'s tail waste; the tiny document is all waste.
    waste = sum(w for _subset, _split, w in res["wastes"])
    tokens = sum(v[2] for k, v in res["stats"].items() if k.startswith("tokens\t"))
    packed = sum(v for k, v in counters.items() if k.startswith("pack:rows_"))
    assert packed * 17 + waste == tokens


def test_row_files_that_do_not_match_the_plan_are_a_clear_error(tmp_path):
    """Row files from another run (more rows than planned, or a part the plan never heard of) are named, not
    a KeyError."""
    rows_dir = tmp_path / "rows"
    records = _write_row_files(rows_dir, 3)
    fewer = [((split, subset, source, part), (n - 1, size)) for (split, subset, source, part), (n, size) in records]
    for plan_records, part in ((fewer, 2), ([r for r in records if r[0][3] != 2], 2)):
        plan = plan_mixture(sorted(plan_records), "natural", None, None, SEQ_LEN)
        with pytest.raises(ValueError, match=rf"part-00000{part}\.arrow: (train|validation) row \d+ of \w+ "
                                             rf"\(part {part}\) is not in the mixture plan"):
            route_part(part, row_file(str(rows_dir), part), row_file(str(tmp_path / "routed"), part), plan, 1,
                       "subset", 8192)
