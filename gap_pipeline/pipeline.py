"""The build as Beam pipelines: raw store -> documents -> filters -> dedup -> tokens -> mixed Arrow shards.

Stage order (DESIGN.md): read raw store -> extract -> PubMed updates -> boilerplate + clean -> quality ->
abstracts with full text -> exact dedup -> near dedup -> language -> decontaminate -> split -> tokenizer ->
tokenize -> pack -> mix -> shards, run as four phases (PHASES below) whose outputs are files. Every stage's
logic lives in `transforms/`; this module only wires them and routes the three kinds of outcome (kept
documents, drops with a reason, quarantined records with an error) to files that `gap_pipeline.manifest`
turns into the manifest's accounting after the run.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import apache_beam as beam

from gap_pipeline.outputs import WriteSorted, encode_json, encode_jsonl, join_path, write_bytes
from schemas import stages
from schemas.document import Document
from schemas.events import Drop, Quarantined
from transforms.parts import DROPPED, QUARANTINE, STATS, stat, sum_stats as _sum_stats

if TYPE_CHECKING:
    from gap_pipeline.config import CorpusConfig


@dataclasses.dataclass(frozen=True)
class SourceRules:
    """What the pipeline needs from a source spec (the spec stays the one source of truth)."""
    subset: str
    priority: int
    license: str
    redistributable: bool
    publisher: str
    rules: dict  # the spec's content + cleaning sections


# --------------------------------------------------------------------------- phases
#
# A build is four phases, each a plain Beam pipeline whose outputs are files (so any runner runs it,
# and a build that dies resumes at the first unfinished phase). Texts live in per-part files
# (transforms/docfiles.py) and are read in one DoFn call per part; what crosses a shuffle is small:
# keys for versions and dedup decisions, drops, statistics; token rows go through per-part row files.
#
#   extract  raw parts -> newest versions (keys) -> extract -> work/extract/part-N
#   filter   PubMed updates (keys) -> boilerplate line counts -> boilerplate, clean, quality -> work/filter/part-N
#   dedup    full text, exact (keys) -> near (sketches) -> language, decontaminate -> documents/part-N
#   tokens   tokenizer -> per part: split, tokenize, pack -> row files -> mixture plan -> rows routed -> shards

PHASES = ("extract", "filter", "dedup", "tokens")
DOCUMENT_PHASES = ("extract", "filter", "dedup")  # each writes one document file per raw part (docs_folder)


@dataclasses.dataclass(frozen=True)
class PhaseContext:
    """What every phase needs: the config, the sources, where to read and write."""
    cfg: "CorpusConfig"
    sources: dict  # name -> SourceRules
    parts: tuple   # raw-store parts in path order; part file N of every phase comes from parts[N]
    out: str       # the corpus folder being written (a staging folder until it is published)
    work: str      # phase files: work/<phase>/part-N.parquet, work/<phase>/progress/

    def folder(self, phase: str, *rest: str) -> str:
        return join_path(self.work, phase, *rest)

    def part_files(self, folder: str) -> list[str]:
        from transforms.docfiles import part_file
        return [part_file(folder, n) for n in range(len(self.parts))]

    def docs_folder(self, phase: str) -> str:
        """Where a phase writes its documents (the dedup phase writes the corpus's documents/)."""
        return join_path(self.out, "documents") if phase == "dedup" else self.folder(phase, "docs")


def _write_events(ctx: PhaseContext, phase: str, drops: list, quarantines: list, stats: list) -> None:
    """A phase's small outputs: drops and quarantined records in the corpus's sorted files (named by
    phase, so a rerun of one phase replaces only its own), statistics for the manifest."""
    target = ctx.cfg.outputs.target_bytes
    if drops:
        (drops | "AllDrops" >> beam.Flatten()
         | "WriteDrops" >> WriteSorted(join_path(ctx.out, "dropped"), f"dropped-{phase}", _drop_key, _encode_events,
                                       ".jsonl", size=lambda drop: 200 + len(drop.detail), target_bytes=target))
    if quarantines:
        (quarantines | "AllQuarantine" >> beam.Flatten()
         | "WriteQuarantine" >> WriteSorted(join_path(ctx.out, "quarantine"), f"quarantine-{phase}", _quarantine_key,
                                            _encode_events, ".jsonl", size=lambda q: 200 + len(q.error),
                                            target_bytes=target))
    if stats:
        (stats | "AllStats" >> beam.Flatten() | "SumStats" >> beam.CombinePerKey(_sum_stats)
         | "StatList" >> beam.combiners.ToList()  # one entry per (kind, source, subset): bounded by the sources
         | "WriteStats" >> beam.Map(lambda items: write_bytes(
             join_path(ctx.out, "_build", f"stats-{phase}.json"),
             encode_json({k: list(v) for k, v in sorted(items)}))))


def _drop_key(drop: Drop) -> str:
    return f"{drop.stage}\t{drop.doc_id}\t{drop.to_json()}"


def _quarantine_key(q: Quarantined) -> str:
    return f"{q.stage}\t{q.source}\t{q.url}\t{q.sha256}"


def _pass(pipeline, ctx: PhaseContext, label: str, phase: str, read_folder: str, make, *, skips=None,
          only=None, write: bool = False, side=(), tags=(DROPPED,)):
    """One DocumentPass over every part file of `read_folder`."""
    from transforms.parts import DocumentPass, ProgressMarker, parts_with_skips
    out = ctx.docs_folder(phase) if write else None
    progress = ProgressMarker(ctx.folder(phase, "progress", label))
    return (parts_with_skips(pipeline, label, ctx.part_files(read_folder), skips, only)
            | label >> beam.ParDo(DocumentPass(make, out, progress), *side).with_outputs(*tags, main="main"))


def build_extract(p: beam.Pipeline, ctx: PhaseContext) -> None:
    """Raw parts -> the newest version of each page (decided on keys) -> documents per part."""
    from transforms.parts import (ExtractDocuments, ExtractPart, ProgressMarker, ScanRawPart, newest_versions,
                                  parts_with_skips)

    selected = tuple(ctx.cfg.sources)
    scan = (p | "ListParts" >> beam.Create(list(enumerate(ctx.parts))) | "Reshuffle" >> beam.Reshuffle()
            | "ScanRaw" >> beam.ParDo(ScanRawPart(selected)).with_outputs(QUARANTINE, STATS, main="keys"))
    versions = newest_versions(scan.keys)
    extract = ExtractDocuments(ctx.sources, ctx.cfg.extract.options)
    extracted = (parts_with_skips(p, "Extract", list(ctx.parts), versions.losers)
                 | "Extract" >> beam.ParDo(ExtractPart(extract, selected, ctx.docs_folder("extract"),
                                                       ProgressMarker(ctx.folder("extract", "progress", "Extract"))))
                 .with_outputs(QUARANTINE, STATS, DROPPED, main="none"))
    _write_events(ctx, "extract", [extracted[DROPPED]], [scan[QUARANTINE], extracted[QUARANTINE]],
                  [scan[STATS], versions[STATS], extracted[STATS]])


def _line_records(doc: Document, _part: int, _row: int):
    from transforms.clean import document_line_keys
    yield beam.pvalue.TaggedOutput("source", (doc.source, 1))
    for key in document_line_keys(doc.text):
        yield beam.pvalue.TaggedOutput("line", ((doc.source, key), 1))


def build_filter(p: beam.Pipeline, ctx: PhaseContext) -> None:
    """PubMed update files (keys) -> boilerplate lines per source (line counts) -> boilerplate, clean,
    quality on each document."""
    from transforms import clean, quality
    from transforms.keys import pubmed_update_decisions

    cfg, extracted = ctx.cfg, ctx.docs_folder("extract")
    priority = dict(cfg.dedup.subset_priority)
    updates = pubmed_update_decisions(lambda label, make, **kw: _pass(p, ctx, label, "filter", extracted, make, **kw),
                                      priority)
    update_refs = updates.refs

    c = cfg.clean
    lines = _pass(p, ctx, "LineKeys", "filter", extracted, lambda: ([], _line_records), skips=update_refs,
                  tags=(DROPPED, "source", "line"))
    per_source = lines.source | "CountDocs" >> beam.CombinePerKey(sum)
    line_counts = (lines.line | "CountLines" >> beam.CombinePerKey(sum)
                   | "Frequent" >> beam.Filter(lambda kv, n: kv[1] >= n, c.boilerplate_min_docs))
    table = clean.boilerplate_table(per_source, line_counts, c.boilerplate_min_docs, c.boilerplate_min_fraction)
    # Corpus-wide cleaning defaults; a source's spec may override them.
    rules_by_source = {name: {**s.rules, "cleaning": {"remove_urls": c.remove_urls, **s.rules.get("cleaning", {})}}
                       for name, s in ctx.sources.items()}
    per_source_quality = {name: s.rules.get("quality", {}) for name, s in ctx.sources.items()}

    def filter_stages(boilerplate):
        return ([(stages.BOILERPLATE, clean.boilerplate_fn(boilerplate)),
                 (stages.CLEAN, clean.clean_fn(rules_by_source)),
                 (stages.QUALITY, quality.quality_fn(cfg.quality, per_source_quality))], None)

    filtered = _pass(p, ctx, "Filter", "filter", extracted, filter_stages, skips=update_refs, write=True,
                     side=(beam.pvalue.AsDict(table),))
    _write_events(ctx, "filter", updates.drops + [filtered[DROPPED]], [], [])


def _kept_stats(doc: Document, _part: int, _row: int):
    yield beam.pvalue.TaggedOutput(STATS, stat("kept_chars", doc.source, chars=len(doc.text)))


def build_dedup(p: beam.Pipeline, ctx: PhaseContext) -> None:
    """Abstracts with full text and exact duplicates (keys) -> near duplicates (MinHash sketches of the
    survivors) -> language and decontamination on each survivor -> the corpus's documents/."""
    from transforms import decontaminate, language
    from transforms.keys import cluster_size_stats, dedup_decisions

    cfg, filtered = ctx.cfg, ctx.docs_folder("filter")
    d = cfg.dedup
    decided = dedup_decisions(lambda label, make, **kw: _pass(p, ctx, label, "dedup", filtered, make, **kw),
                              dict(d.subset_priority), d.minhash, exact=d.exact, near=d.near)

    doc_stages = [(stages.LANGUAGE, language.language_fn(cfg.language))]  # seeded with cfg.seed (CorpusConfig)
    bench = cfg.decontamination
    if bench.benchmarks:
        index = decontaminate.load_benchmark_ngrams(bench.benchmarks, bench.ngram)
        doc_stages.append((stages.DECONTAMINATE, decontaminate.decontaminate_fn(index, bench.ngram)))
    final = _pass(p, ctx, "Finish", "dedup", filtered, lambda: (doc_stages, _kept_stats), skips=decided.refs,
                  write=True, tags=(DROPPED, STATS))
    clusters = cluster_size_stats(decided.drops)
    _write_events(ctx, "dedup", decided.drops + [final[DROPPED]], [], [final[STATS], clusters])


def _yield_document(doc: Document, _part: int, _row: int):
    yield beam.pvalue.TaggedOutput("doc", doc)


def build_tokens(p: beam.Pipeline, ctx: PhaseContext, tokenizer_model: bytes | None) -> None:
    """Tokenizer (trained on a capped, hash-ordered sample, or given) -> per part: split, tokenize, pack
    into row files -> mixture plan (one small record per packed part and group) -> per part: rows routed
    in shard order -> shards gathered from contiguous ranges; plus the tokenizer file, the mixture and
    the shard list. Token rows go through files only; the shuffle carries one range record per
    (part, shard)."""
    from transforms.mix import plan_mixture
    from transforms.pack import GROUPS, PackPart
    from transforms.shards import RouteParts, WriteShards
    from transforms.tokenizer import TrainTokenizer, tokenizer_filename

    cfg, documents = ctx.cfg, ctx.docs_folder("dedup")
    seed = cfg.seed
    if tokenizer_model is None:
        docs = _pass(p, ctx, "SampleDocuments", "tokens", documents, lambda: ([], _yield_document), tags=(DROPPED, "doc"))
        model = docs.doc | "TrainTokenizer" >> TrainTokenizer(cfg.tokenizer, seed)
    else:
        model = p | "GivenTokenizer" >> beam.Create([tokenizer_model])
    model | "WriteTokenizer" >> beam.Map(lambda blob: write_bytes(join_path(ctx.out, tokenizer_filename(blob)), blob))

    seq_len = cfg.packing.seq_len
    m = cfg.mixture
    by_source = m.by == "source"
    if by_source:  # shares/factors name sources: every one must be a source this build reads
        from gap_pipeline.config import ConfigError
        named = m.shares if m.mode == "shares" else m.factors if m.mode == "factors" else {}
        unknown = sorted(k for k, v in named.items() if v and k not in ctx.sources)
        if unknown:
            raise ConfigError(f"mixture.{m.mode}: no source named {', '.join(unknown)} in this build "
                              f"(mixture.by is source; sources: {', '.join(sorted(ctx.sources))})")
    fractions = cfg.split.validation_fraction
    tok = {"bos_token": cfg.tokenizer.bos_token, "eos_token": cfg.tokenizer.eos_token}
    rows_folder, routed_folder = ctx.folder("tokens", "rows"), ctx.folder("tokens", "routed")
    packed = _pass(p, ctx, "Pack", "tokens", documents,
                   lambda blob: ([], PackPart(blob, tok, fractions, seed, by_source, seq_len, rows_folder)),
                   side=(beam.pvalue.AsSingleton(model),), tags=(DROPPED, STATS, GROUPS))
    plan = (packed[GROUPS] | "AllGroups" >> beam.combiners.ToList()  # one small record per packed (part, group)
            | "Plan" >> beam.Map(lambda groups: plan_mixture(sorted(groups), m.mode, m.shares, m.factors,
                                                             seq_len, by=m.by)))
    plan | "WriteMixture" >> beam.Map(lambda the_plan: write_bytes(
        join_path(ctx.out, "_build", "mixture.json"), encode_json(the_plan["report"])))
    plan_side = beam.pvalue.AsSingleton(plan)
    target = cfg.shards.target_bytes
    vocab_side = beam.pvalue.AsSingleton(model | "VocabSize" >> beam.Map(_vocab_size))
    infos = (p | "PartNumbers" >> beam.Create(list(range(len(ctx.parts)))) | "SpreadParts" >> beam.Reshuffle()
             | "RouteParts" >> RouteParts(rows_folder, routed_folder, plan_side, seed, m.by, target)
             | "WriteShards" >> WriteShards(routed_folder, ctx.out, plan_side, vocab_side, target, seq_len, by_source))
    (infos | "ShardList" >> beam.combiners.ToList()  # one small dict per shard
     | "WriteShardList" >> beam.Map(lambda items: write_bytes(
         join_path(ctx.out, "_build", "shards.json"), encode_json(sorted(items, key=lambda i: i["path"])))))
    _write_events(ctx, "tokens", [], [], [packed[STATS]])


def build_phase(p: beam.Pipeline, phase: str, ctx: PhaseContext, tokenizer_model: bytes | None = None) -> None:
    """Add one phase's transforms to `p`."""
    if phase == "extract":
        build_extract(p, ctx)
    elif phase == "filter":
        build_filter(p, ctx)
    elif phase == "dedup":
        build_dedup(p, ctx)
    elif phase == "tokens":
        build_tokens(p, ctx, tokenizer_model)
    else:
        raise ValueError(f"unknown build phase {phase!r} (phases: {', '.join(PHASES)})")

def _vocab_size(model: bytes) -> int:
    from transforms.tokenizer import vocab_size_of
    return int(vocab_size_of(model))


def _encode_events(events: list) -> bytes:
    return encode_jsonl(e.to_json() for e in events)
