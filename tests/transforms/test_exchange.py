"""File shuffles (transforms/exchange.py): the same groups as Beam's own, through sorted run files, and
flattens through spool files."""
from __future__ import annotations

import collections
import random

import apache_beam as beam
import pytest

from transforms import exchange


def _run(build, tmp_path, files: bool, workers: int = 1):
    """Run `build(p) -> PCollection` and return its elements (collected through a side file)."""
    out = tmp_path / f"out-{files}-{workers}.txt"
    opts = {"runner": "FnApiRunner"}
    if workers > 1:
        opts.update(direct_num_workers=workers, direct_running_mode="multi_processing")
    from apache_beam.options.pipeline_options import PipelineOptions
    p = beam.Pipeline(options=PipelineOptions.from_dictionary(opts))
    (build(p) | "Repr" >> beam.Map(repr)
     | "Write" >> beam.io.WriteToText(str(out), shard_name_template=""))
    if files:
        exchange.use_file_shuffles(p, str(tmp_path / "shuffle"))
    p.run().wait_until_finish()
    return sorted(out.read_text().split("\n")[:-1])


def _records(n=3000, keys=200, seed=1):
    rng = random.Random(seed)
    return [((f"k{rng.randrange(keys)}", rng.randrange(3)), rng.randrange(10_000)) for _ in range(n)]


@pytest.fixture
def tiny_spills(monkeypatch):
    """Spill every few records, keep few accumulators and merge 3 runs at a time, so many runs are
    merged in several passes."""
    monkeypatch.setattr(exchange, "SPILL_BYTES", 2000)
    monkeypatch.setattr(exchange, "FAN_IN", 3)
    monkeypatch.setattr(exchange, "MAX_KEYS", 7)
    monkeypatch.setattr(exchange, "PARTITIONS", 3)


def test_group_by_key_gives_beams_groups(tmp_path, tiny_spills):
    records = _records()

    def build(p):
        return (p | beam.Create(records) | beam.GroupByKey()
                | beam.MapTuple(lambda k, vs: (k, sorted(vs))))

    expected = collections.defaultdict(list)
    for k, v in records:
        expected[k].append(v)
    got = _run(build, tmp_path, files=True)
    assert got == sorted(repr((k, sorted(v))) for k, v in expected.items())
    assert got == _run(build, tmp_path, files=False)
    runs = list((tmp_path / "shuffle").rglob("run-*"))
    assert len(runs) > 10  # the tiny spill size made many sorted runs, and they were merged
    assert list((tmp_path / "shuffle").rglob("merged-*"))  # in passes of FAN_IN runs


def test_combiners_and_cogroup_match_beam(tmp_path, tiny_spills):
    records = _records(seed=2)

    def build(p):
        pc = p | beam.Create(records)
        sums = pc | "Sum" >> beam.CombinePerKey(sum)
        mins = pc | "Min" >> beam.CombinePerKey(min)
        every = (pc | "Values" >> beam.Values() | beam.combiners.ToList()
                 | beam.Map(lambda xs: ("all", sorted(xs)[:5], len(xs))))
        joined = ({"sum": sums, "min": mins} | beam.CoGroupByKey()
                  | beam.MapTuple(lambda k, g: (k, list(g["sum"]), list(g["min"]))))
        return (joined, every, pc | "Spread" >> beam.Reshuffle() | beam.combiners.Count.Globally()) | beam.Flatten()

    got = _run(build, tmp_path, files=True)
    assert got == _run(build, tmp_path, files=False)
    assert repr(len(records)) in got


def test_no_shuffle_or_flatten_is_left(tmp_path):
    p = beam.Pipeline(runner="FnApiRunner")
    pc = p | beam.Create(_records(50))
    ({"a": pc, "b": pc | beam.CombinePerKey(sum)} | beam.CoGroupByKey())
    pc | beam.Reshuffle() | "G2" >> beam.GroupByKey()
    exchange.use_file_shuffles(p, str(tmp_path))
    kinds = collections.Counter()

    class Visit(beam.pipeline.PipelineVisitor):
        def visit_transform(self, node):
            kinds[type(node.transform).__name__] += 1

        def enter_composite_transform(self, node):
            kinds[type(node.transform).__name__] += 1

    p.visit(Visit())
    assert kinds["FileGroupByKey"] >= 4 and kinds["FileFlatten"] >= 1  # CoGroupByKey flattens its inputs
    assert not {"GroupByKey", "CombinePerKey", "Reshuffle", "Flatten"} & set(kinds)


def test_flatten_of_several_stages_keeps_every_element(tmp_path, tiny_spills):
    records = _records(seed=4)

    def build(p):
        pc = p | beam.Create(records)
        grouped = pc | beam.GroupByKey() | beam.MapTuple(lambda k, vs: (k, len(vs)))  # another stage
        return (pc, grouped, pc | "Again" >> beam.Map(lambda kv: kv[1])) | beam.Flatten()

    got = _run(build, tmp_path, files=True)
    assert got == _run(build, tmp_path, files=False)
    assert len(got) == 2 * len(records) + len({k for k, _ in records})
    assert list((tmp_path / "shuffle").rglob("spool-*"))


def test_two_workers_give_the_same_groups(tmp_path, tiny_spills):
    records = _records(seed=3)

    def build(p):
        return p | beam.Create(records) | beam.CombinePerKey(sum)

    assert _run(build, tmp_path, files=True, workers=2) == _run(build, tmp_path, files=False)


def test_a_truncated_run_is_named(tmp_path):
    path = tmp_path / "run-x-p000"
    exchange._write_run(str(path), [(b"k", b"v" * 10)])
    path.write_bytes(path.read_bytes()[:-3])
    with pytest.raises(IOError, match="run-x-p000 is truncated"):
        list(exchange._read_run(str(path)))


def test_a_build_with_file_shuffles_equals_one_with_beams(tmp_path, monkeypatch):
    """The sample corpus: byte-identical whether the local runner shuffles in memory or through files."""
    import hashlib

    from gap_pipeline import build
    from gap_pipeline.config import load_config

    cfg = load_config(build.sample_config_path())
    files_out, memory_out = tmp_path / "files", tmp_path / "memory"
    used = []
    real = exchange.use_file_shuffles
    monkeypatch.setattr(exchange, "use_file_shuffles", lambda p, folder: used.append(folder) or real(p, folder))
    build.run_build(cfg, str(files_out))
    assert len(used) == 4  # every phase
    monkeypatch.setattr(build, "local_runner", lambda options: False)
    build.run_build(cfg, str(memory_out))
    assert len(used) == 4

    def digests(root):
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    assert digests(files_out) == digests(memory_out)
    assert not (files_out / "_build" / "work").exists()  # shuffle runs went with the work area
