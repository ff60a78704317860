"""Passes over per-part files: the fused per-document half of every build phase.

Each element is one part: (part number, {"path": [file], "skip": [rows to skip]}) after a CoGroupByKey
of the part list with the rows that cross-document decisions removed. A pass reads the file in one
DoFn call, in row order, applies per-document stages (`fn(doc) -> Document | Drop`, counted as
`stage:kept` / `stage:reason` by `transforms.stage.StageChain`), writes the survivors to the
next phase's part file, and emits only small records: drops, quarantined records, statistics, key
records for the next cross-document decision, and a progress marker.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas import stages
from schemas.document import Document
from schemas.events import Drop, Quarantined
from schemas.raw import RawRecord
from schemas.raw_store import iter_raw_rows
from transforms.extract import ExtractError, ExtractOptions, extract_record
from transforms.extract.encoding import GUESSED_ORIGINS
from transforms.docfiles import DocumentWriter, part_file, read_documents
from transforms.stage import Stage, StageChain

DROPPED = "dropped"
QUARANTINE = "quarantine"
STATS = "stats"
KEYS = "keys"


def stat(kind: str, *key: str, docs: int = 1, chars: int = 0, tokens: int = 0):
    """A statistic for the manifest: (kind\\tkey..., (docs, chars, tokens)), summed per key."""
    return ("\t".join((kind,) + tuple(key)), (docs, chars, tokens))


def sum_stats(values: Iterable[tuple[int, int, int]]) -> tuple[int, int, int]:
    d = c = t = 0
    for a, b, e in values:
        d, c, t = d + a, c + b, t + e
    return d, c, t


def parts_with_skips(pipeline, label: str, paths: Sequence[str], skips=None, only=None):
    """(part, {"path": [path], "skip": [row, ...]}) for every part; `skips` is a PCollection of
    (part, row) or None. Every part appears, with or without rows to skip. With `only` ((part, row)
    pairs) instead, the group has "only": the rows to read, all others are skipped."""
    listed = pipeline | f"{label}Parts" >> beam.Create(list(enumerate(paths)))
    if only is not None:
        return {"path": listed, "only": only} | f"{label}JoinOnly" >> beam.CoGroupByKey()
    if skips is None:
        return listed | f"{label}NoSkips" >> beam.MapTuple(lambda part, path: (part, {"path": [path], "skip": []}))
    return {"path": listed, "skip": skips} | f"{label}JoinSkips" >> beam.CoGroupByKey()


class DocumentPass(beam.DoFn):
    """Read one part file, skip decided losers, apply the stages, write survivors to `out_folder`
    (when given) and yield the small records of `emit(doc, part, row)` (row: in the written file when
    writing, else in the read file).

    `make(*side_inputs) -> (stages, emit)` builds the stages once per worker and side-input value
    (a boilerplate table, a tokenizer model). An emit may also have `start(part)` (before the part's
    first document), `flush()` (yields what it still holds at the end of the part) and `abort()` (the
    part failed). `progress(part, docs)` runs when the part is done."""

    def __init__(self, make: Callable[..., tuple[Sequence[Stage], Callable | None]], out_folder: str | None = None,
                 progress: Callable[[int, int], None] | None = None):
        self._make = make
        self._out = out_folder
        self._progress = progress

    def setup(self):
        self._built: tuple | None = None
        self._built_for: tuple | None = None

    def _stages(self, side: tuple):
        ids = tuple(id(v) for v in side)
        if self._built is None or self._built_for != ids:
            stages, emit = self._make(*side)
            chain = StageChain(stages)
            chain.setup()
            self._built, self._built_for = (chain, emit), ids
        return self._built

    def process(self, element, *side):
        part, grouped = element
        only = set(grouped["only"]) if "only" in grouped else None
        if only is None or only:  # nothing wanted from this part: not even opened
            yield from self._pass(part, list(grouped["path"])[0], set(grouped.get("skip", ())), only, side)

    def _pass(self, part: int, path: str, skip: set, only: set | None, side: tuple):
        chain, emit = self._stages(side)
        writer = DocumentWriter(part_file(self._out, part)) if self._out else None
        written = seen = 0
        start = getattr(emit, "start", None)  # an emit that writes its own part file (packing) opens it
        if start is not None:
            start(part)
        try:
            for row, doc in enumerate(read_documents(path)):
                if row in skip or (only is not None and row not in only):
                    continue
                seen += 1
                result = chain(doc)
                if isinstance(result, Drop):
                    yield beam.pvalue.TaggedOutput(DROPPED, result)
                    continue
                out_row = row
                if writer is not None:
                    writer.add(result)
                    out_row = written
                    written += 1
                if emit is not None:
                    yield from emit(result, part, out_row)
            flush = getattr(emit, "flush", None)  # an emit that batches (tokenization) finishes the part
            if flush is not None:
                yield from flush()
        except BaseException:
            if writer is not None:
                writer.abort()
            abort = getattr(emit, "abort", None)
            if abort is not None:
                abort()
            raise
        if writer is not None:
            writer.close()
        if self._progress is not None:
            self._progress(part, written if writer is not None else seen)


class ProgressMarker:
    """Writes folder/part-NNNNNN.json ({"docs": n}) when a part is done: the build's progress display
    counts them, whatever process or machine ran the part."""

    def __init__(self, folder: str):
        self._folder = folder

    def __call__(self, part: int, docs: int) -> None:
        import json
        import os
        from apache_beam.io.filesystems import FileSystems
        path = FileSystems.join(self._folder, f"part-{part:06d}.json")
        if "://" not in path:
            os.makedirs(self._folder, exist_ok=True)
        with FileSystems.create(path) as fh:
            fh.write(json.dumps({"docs": docs}).encode())


class ScanRawPart(beam.DoFn):
    """Pass 1 over a raw-store part: count every row, quarantine rows that break the contract, and
    yield ((source, url), (part, row)) for the valid rows of selected sources, so the newest version
    of each page is chosen on keys only."""

    def __init__(self, selected_sources: tuple[str, ...]):
        self._selected = set(selected_sources)

    def process(self, numbered_path):
        part, path = numbered_path
        for row_number, row, record, error in iter_raw_rows(path):
            source = row.get("source") or "unknown"
            yield beam.pvalue.TaggedOutput(STATS, stat("raw_in", source, chars=len(row.get("content") or b"")))
            if self._selected and source not in self._selected:
                yield beam.pvalue.TaggedOutput(STATS, stat("raw_excluded", source))
                continue
            if error is not None:
                yield beam.pvalue.TaggedOutput(QUARANTINE, Quarantined(
                    source=source, url=str(row.get("url") or ""), stage="read", error=error,
                    sha256=str(row.get("sha256") or ""), content_type=str(row.get("content_type") or "")))
                continue
            yield (record.source, record.url), (part, row_number)


def newest_versions(keyed):
    """((source, url), (part, row)) -> outputs main: (part, row) of every superseded version;
    `stats`: raw_superseded per source. Keys only: the records stay in their parts."""
    def losers(item):
        (source, _url), versions = item
        versions = sorted(versions)
        if len(versions) > 1:
            yield beam.pvalue.TaggedOutput(STATS, stat("raw_superseded", source, docs=len(versions) - 1))
            yield from versions[:-1]  # parts are listed in path order and rows in file order: last is newest

    return (keyed | "GroupVersions" >> beam.GroupByKey()
            | "Superseded" >> beam.FlatMap(losers).with_outputs(STATS, main="losers"))


class ExtractDocuments(beam.DoFn):
    """Raw record -> documents (and extract-stage drops); unusable records go to quarantine. `sources`
    maps a source name to its rules (gap_pipeline.pipeline.SourceRules: subset, priority, licence, ...)."""

    def __init__(self, sources: dict, options: ExtractOptions):
        self._sources, self._options = sources, options
        self._quarantined = Metrics.counter("gap", "extract:quarantined")

    def _quarantine(self, raw: RawRecord, error: str):
        self._quarantined.inc()
        return beam.pvalue.TaggedOutput(QUARANTINE, Quarantined(
            source=raw.source, url=raw.url, stage=stages.EXTRACT, error=error, sha256=raw.sha256,
            content_type=raw.content_type))

    def process(self, raw: RawRecord):
        spec = self._sources.get(raw.source)
        if spec is None:
            yield self._quarantine(raw, f"no source spec named {raw.source!r}")
            return
        try:
            results = extract_record(raw, subset=spec.subset, options=self._options, rules=spec.rules)
            if not results:
                raise ExtractError("no documents found in record")
        except ExtractError as exc:
            yield self._quarantine(raw, str(exc) or type(exc).__name__)
            return
        except Exception as exc:  # a parser bug must not kill a corpus build: quarantine with the traceback type
            yield self._quarantine(raw, f"{type(exc).__name__}: {exc}")
            return
        yield beam.pvalue.TaggedOutput(STATS, stat("raw_extracted", raw.source))
        for item in results:
            if isinstance(item, Drop):
                Metrics.counter("gap", f"extract:{item.reason}").inc()
                yield beam.pvalue.TaggedOutput(STATS, stat("extracted", item.source, item.subset, chars=item.chars))
                yield beam.pvalue.TaggedOutput(DROPPED, item)
                continue
            doc = item.with_meta(priority=spec.priority, redistributable=spec.redistributable)
            if raw.content_type == "html":  # guessed encodings are counted, so the manifest shows them
                origin = doc.meta.get("encoding_origin")
                if origin in GUESSED_ORIGINS:
                    Metrics.counter("gap", f"extract:encoding_{origin}").inc()
            if not doc.license or doc.license == "unknown":
                doc = doc.replace(license=spec.license)
            yield beam.pvalue.TaggedOutput(STATS, stat("extracted", doc.source, doc.subset, chars=len(doc.text)))
            yield doc


class ExtractPart(beam.DoFn):
    """Pass 2 over a raw-store part: extract every selected, valid, newest row (through `extract`,
    a DoFn-like object whose `process(record)` yields documents and tagged outputs) and write the
    documents to the part's file in `out_folder`."""

    def __init__(self, extract, selected_sources: tuple[str, ...], out_folder: str,
                 progress: Callable[[int, int], None] | None = None):
        self._extract = extract
        self._selected = set(selected_sources)
        self._out = out_folder
        self._progress = progress

    def setup(self):
        setup = getattr(self._extract, "setup", None)
        if callable(setup):
            setup()

    def process(self, element):
        part, grouped = element
        path = list(grouped["path"])[0]
        skip = set(grouped["skip"])
        writer = DocumentWriter(part_file(self._out, part))
        try:
            for row_number, row, record, error in iter_raw_rows(path):
                if error is not None or row_number in skip:
                    continue
                if self._selected and record.source not in self._selected:
                    continue
                for item in self._extract.process(record):
                    if isinstance(item, Document):
                        writer.add(item)
                    else:
                        yield item
        except BaseException:
            writer.abort()
            raise
        writer.close()
        if self._progress is not None:
            self._progress(part, writer.count)
