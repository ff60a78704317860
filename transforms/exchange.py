"""Shuffles through files, for the local runner.

Beam's local runner (FnApiRunner, what `gap build` uses without --runner) keeps every shuffle in RAM:
a GroupByKey's whole input sits in the runner process until the group is consumed, so a local build's
memory would follow the corpus (dedup keys, bucket entries, drops). `use_file_shuffles(pipeline, folder)`
replaces every GroupByKey, CombinePerKey and Reshuffle of a pipeline, before it runs, with the same
operation through files: an external sort. Flattens go through files too (`FileFlatten`): the local
runner buffers a Flatten of several stages' outputs in RAM, and CoGroupByKey is one.

    writer (fused with the producer): records encoded with Beam's deterministic coder, buffered per
        partition (crc32 of the key), sorted and written as a run file each time the buffer reaches
        SPILL_BYTES; a combine keeps at most MAX_KEYS accumulators per bundle before spilling them
        (the lifted-combiner trick, bounded). Yields (partition, run path): small.
    reader: the run list as a side input (the barrier: every run is written), one reader per
        partition merges its sorted runs (heapq.merge) and yields (key, values sorted by their encoding)
        or (key, combined value).

What a worker holds: one spill buffer while writing; while reading, one buffered reader per run (at most
FAN_IN: beyond that, runs are first merged into longer ones, FAN_IN at a time) plus one group; nothing
grows with the corpus. Results are those of Beam's GroupByKey (same key encoding,
values in a fixed order), so outputs are byte-identical with or without it. Cluster runners
(Dataflow, Flink, Spark) shuffle through their own disk-backed services and are left alone.
"""
from __future__ import annotations

import hashlib
import heapq
import itertools
import os
import struct
import uuid
import zlib
from typing import Iterator

import apache_beam as beam
from apache_beam import coders
from apache_beam.io.filesystems import FileSystems
from apache_beam.pipeline import PTransformOverride
from apache_beam.transforms.window import GlobalWindows

# Small enough that a 10k-document build already spills: a build's peak is then the same at any size.
SPILL_BYTES = 8 << 20    # bytes a writer buffers (records + their Python overhead) before writing a sorted run
MAX_KEYS = 20_000        # accumulators a combining writer keeps before spilling them
PARTITIONS = 8           # readers per shuffle (parallelism only: results do not depend on it)
FAN_IN = 64              # runs merged at once; more are first merged into longer runs, FAN_IN at a time
_HEADER = struct.Struct(">II")
_OVERHEAD = 130  # a buffered record's Python cost beyond its bytes: two bytes objects, a tuple, a list slot

METRICS = "gap_shuffle"  # not "gap": spills depend on bundles, and the manifest's counters must not
KEY_CODER = coders.FastPrimitivesCoder().as_deterministic_coder("gap file shuffle")
VALUE_CODER = coders.FastPrimitivesCoder()


def _encode_key(key) -> bytes:
    return KEY_CODER.encode(key)


def _write_run(path: str, records: list[tuple[bytes, bytes]], sort: bool = True) -> None:
    if sort:
        records.sort()
    if "://" not in path:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    _write_records(path, records)


def _write_records(path: str, records) -> None:
    with (open(path, "wb", buffering=1 << 20) if "://" not in path else FileSystems.create(path)) as fh:
        for kb, vb in records:
            fh.write(_HEADER.pack(len(kb), len(vb)))
            fh.write(kb)
            fh.write(vb)


def _read_run(path: str) -> Iterator[tuple[bytes, bytes]]:
    with (open(path, "rb", buffering=1 << 16) if "://" not in path else FileSystems.open(path)) as fh:
        while True:
            header = fh.read(_HEADER.size)
            if not header:
                return
            if len(header) != _HEADER.size:
                raise IOError(f"shuffle run {path} is truncated")
            klen, vlen = _HEADER.unpack(header)
            kb, vb = fh.read(klen), fh.read(vlen)
            if len(kb) != klen or len(vb) != vlen:
                raise IOError(f"shuffle run {path} is truncated")
            yield kb, vb


def _merge_runs(paths: list[str]) -> str:
    """One longer sorted run from several (a merge pass), written beside them."""
    path = FileSystems.join(paths[0].rsplit("/", 1)[0], f"merged-{uuid.uuid4().hex}")
    _write_records(path, heapq.merge(*(_read_run(p) for p in paths)))
    return path


class _WriteRuns(beam.DoFn):
    """(key, value) -> sorted run files per partition; yields (partition, path) at the end of a bundle."""

    def __init__(self, folder: str, partitions: int, combine_fn, spill_bytes: int, max_keys: int):
        self._folder, self._partitions, self._fn = folder, partitions, combine_fn
        self._spill_bytes, self._max_keys = spill_bytes, max_keys

    def setup(self):
        if self._fn is not None:
            self._fn.setup()

    def start_bundle(self):
        from apache_beam.metrics import Metrics
        self._written = Metrics.counter(METRICS, "bytes")
        self._records = Metrics.counter(METRICS, "records")
        self._buffers: list[list] = [[] for _ in range(self._partitions)]
        self._bytes = 0
        self._accumulators: dict[bytes, object] = {}
        self._runs: list[tuple[int, str]] = []

    def process(self, element):
        key, value = element
        kb = _encode_key(key)
        if self._fn is not None:
            acc = self._accumulators.get(kb)
            self._accumulators[kb] = self._fn.add_input(self._fn.create_accumulator() if acc is None else acc, value)
            if len(self._accumulators) >= self._max_keys:
                self._spill_accumulators()
            return
        vb = VALUE_CODER.encode(value)
        self._buffers[zlib.crc32(kb) % self._partitions].append((kb, vb))
        self._bytes += len(kb) + len(vb) + _OVERHEAD
        if self._bytes >= self._spill_bytes:
            self._spill()

    def _spill_accumulators(self):
        for kb, acc in self._accumulators.items():
            self._buffers[zlib.crc32(kb) % self._partitions].append((kb, VALUE_CODER.encode(self._fn.compact(acc))))
        self._accumulators = {}
        self._spill()

    def _spill(self):
        run = uuid.uuid4().hex  # retried bundles write new runs; only the runs a successful bundle yields are read
        for partition, records in enumerate(self._buffers):
            if records:
                path = FileSystems.join(self._folder, f"run-{run}-p{partition:03d}")
                _write_run(path, records)
                self._records.inc(len(records))
                self._written.inc(sum(len(kb) + len(vb) for kb, vb in records) + _HEADER.size * len(records))
                self._runs.append((partition, path))
        self._buffers = [[] for _ in range(self._partitions)]
        self._bytes = 0

    def finish_bundle(self):
        if self._fn is not None and self._accumulators:
            self._spill_accumulators()
        self._spill()
        for run in self._runs:
            yield GlobalWindows.windowed_value(run)

    def teardown(self):
        if self._fn is not None:
            self._fn.teardown()


class _ReadGroups(beam.DoFn):
    """(partition, path) elements + every run (side input) -> the partition's groups. The element
    naming the partition's first run reads the partition; the others yield nothing."""

    def __init__(self, combine_fn=None):
        self._fn = combine_fn

    def setup(self):
        if self._fn is not None:
            self._fn.setup()

    def process(self, element, runs):
        partition, path = element
        mine = sorted(p for r, p in runs if r == partition)
        if path != mine[0]:
            return
        while len(mine) > FAN_IN:  # a reader holds one buffer per run: merge in passes, FAN_IN runs at a time
            mine = [_merge_runs(mine[i:i + FAN_IN]) for i in range(0, len(mine), FAN_IN)]
        merged = heapq.merge(*(_read_run(p) for p in mine))
        for kb, records in itertools.groupby(merged, key=lambda record: record[0]):
            key = KEY_CODER.decode(kb)
            values = [VALUE_CODER.decode(vb) for _, vb in records]
            if self._fn is None:
                yield key, values
            else:
                yield key, self._fn.extract_output(self._fn.merge_accumulators(values))

    def teardown(self):
        if self._fn is not None:
            self._fn.teardown()


class FileGroupByKey(beam.PTransform):
    """GroupByKey through sorted run files under `folder` (module doc). With `combine_fn` (a CombineFn)
    it is CombinePerKey: accumulators are built while writing and merged while reading."""

    def __init__(self, folder: str, combine_fn=None, partitions: int = PARTITIONS):
        super().__init__()
        self._folder, self._fn, self._partitions = folder, combine_fn, partitions

    def expand(self, pcoll):
        writer = _WriteRuns(self._folder, self._partitions, self._fn, SPILL_BYTES, MAX_KEYS)
        runs = pcoll | "WriteRuns" >> beam.ParDo(writer)
        return runs | "ReadGroups" >> beam.ParDo(_ReadGroups(self._fn), beam.pvalue.AsList(runs))


class FileReshuffle(beam.PTransform):
    """Reshuffle (a fusion break that spreads elements over workers) through run files."""

    def __init__(self, folder: str, partitions: int = PARTITIONS):
        super().__init__()
        self._folder, self._partitions = folder, partitions

    def expand(self, pcoll):
        return (pcoll
                | "KeyByContent" >> beam.Map(lambda v: (zlib.crc32(VALUE_CODER.encode(v)), v))
                | "Group" >> FileGroupByKey(self._folder, partitions=self._partitions)
                | "Values" >> beam.FlatMap(lambda kv: kv[1]))


class _Spool(beam.DoFn):
    """Elements -> run files of their encodings, in arrival order (no keys); yields each file's path at the
    end of the bundle, once it is complete."""

    def __init__(self, folder: str, spill_bytes: int):
        self._folder, self._spill_bytes = folder, spill_bytes

    def start_bundle(self):
        self._records: list[tuple[bytes, bytes]] = []
        self._bytes = 0
        self._paths: list[str] = []

    def process(self, element):
        vb = VALUE_CODER.encode(element)
        self._records.append((b"", vb))
        self._bytes += len(vb) + _OVERHEAD
        if self._bytes >= self._spill_bytes:
            self._spill()

    def _spill(self):
        if self._records:
            path = FileSystems.join(self._folder, f"spool-{uuid.uuid4().hex}")
            _write_run(path, self._records, sort=False)
            self._paths.append(path)
        self._records, self._bytes = [], 0

    def finish_bundle(self):
        self._spill()
        for path in self._paths:
            yield GlobalWindows.windowed_value(path)


class _FlattenPaths(beam.Flatten):
    """Beam's Flatten, for the small lists of spool files (a type of its own: never replaced)."""


class FileFlatten(beam.PTransform):
    """Flatten through spool files. The local runner materialises a Flatten whose inputs come from
    different stages in RAM (every producer writes into one buffer, read by the consumer's stage);
    here each input is spooled to files by a writer fused with its producer, and the files are read
    back, one element per file, by the consumer."""

    def __init__(self, folder: str):
        super().__init__()
        self._folder = folder

    def expand(self, pcolls):
        if isinstance(pcolls, beam.pvalue.PBegin):
            return pcolls | "Nothing" >> beam.Create([])
        if isinstance(pcolls, beam.pvalue.PCollection):
            pcolls = (pcolls,)
        paths = [pc | f"Spool{i}" >> beam.ParDo(_Spool(self._folder, SPILL_BYTES)) for i, pc in enumerate(pcolls)]
        return (paths | "Paths" >> _FlattenPaths()
                | "Read" >> beam.FlatMap(lambda path: (VALUE_CODER.decode(vb) for _, vb in _read_run(path))))


def _folder_for(root: str, applied) -> str:
    return FileSystems.join(root, hashlib.sha1(applied.full_label.encode()).hexdigest()[:16])


class _Override(PTransformOverride):
    def __init__(self, root: str, kind: type, make):
        self._root, self._kind, self._make = root, kind, make

    def matches(self, applied_ptransform) -> bool:
        return type(applied_ptransform.transform) is self._kind

    def get_replacement_transform_for_applied_ptransform(self, applied_ptransform):
        return self._make(_folder_for(self._root, applied_ptransform), applied_ptransform.transform)


def _combine(folder: str, transform):
    if transform.args or transform.kwargs:
        raise ValueError(f"file shuffle: CombinePerKey with extra arguments is not supported ({transform.label})")
    return FileGroupByKey(folder, combine_fn=transform.fn)


def use_file_shuffles(pipeline: beam.Pipeline, folder: str) -> None:
    """Replace every Reshuffle, CombinePerKey, GroupByKey and Flatten of `pipeline` (in that order: a
    composite goes before the GroupByKey inside it) by its file-backed form, with files under `folder`."""
    pipeline.replace_all([
        _Override(folder, beam.Reshuffle, lambda f, _t: FileReshuffle(f)),
        _Override(folder, beam.CombinePerKey, _combine),
        _Override(folder, beam.GroupByKey, lambda f, _t: FileGroupByKey(f)),
        _Override(folder, beam.Flatten, lambda f, _t: FileFlatten(f)),
    ])
