"""Cross-document decisions on small key records, never on texts.

Every cross-document stage (PubMed update files, abstracts with full text, exact and near dedup) only
needs a few facts per document: where it lives (part file, row), its id, source, subset and length, its
survivor rank, a hash of its text, the PMID/PMCID keys. `DocKey` carries exactly those (~200 bytes
whatever the text's length); decisions are made on them with the same plain functions as before and
come back as (DocKey, Drop) pairs, routed and counted by `transforms.stage.counted` (the one router),
whose (part, row) is then used to skip the loser when the part file is read again. So what crosses a
shuffle grows with the number of documents, never with their text. The build's wiring of these stages
is at the end of this module, shared with `gap dedup-eval` and the tests.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping, Tuple

import apache_beam as beam

from schemas import stages
from schemas.document import Document
from schemas.events import Drop, make_drop
from transforms.dedup.survivor import exact_rank, survivor_id
from transforms.parts import stat
from transforms.stage import DROPPED, KEPT, PASSED, Counters, counted


@dataclasses.dataclass(frozen=True)
class DocKey:
    part: int                 # part file the document is in (the raw-store part it came from)
    row: int                  # row in that file
    id: str
    source: str
    subset: str
    chars: int                # len(text): dropped characters in the manifest, and the survivor rank
    survivor: tuple           # transforms.dedup.survivor.survivor_key: smaller survives
    fingerprint: str          # sha256 of the whole row: total order between records sharing an id
    text_hash: str = ""       # transforms.dedup.exact.text_hash (only where exact dedup needs it)
    full_text: tuple = ()     # transforms.extract.medline.full_text_keys

    @property
    def ref(self) -> tuple[int, int]:
        return self.part, self.row

    def drop(self, stage: str, reason: str, detail: str = "") -> Drop:
        return make_drop(self, stage, reason, detail, chars=self.chars)


def doc_key(doc: Document, part: int, row: int, priority: Mapping[str, int], *, exact: bool = False) -> DocKey:
    from transforms.dedup.exact import fingerprint, text_hash
    from transforms.dedup.survivor import survivor_key
    from transforms.extract.medline import full_text_keys

    return DocKey(part=part, row=row, id=doc.id, source=doc.source, subset=doc.subset, chars=len(doc.text),
                  survivor=survivor_key(doc, priority), fingerprint=fingerprint(doc),
                  text_hash=text_hash(doc.text) if exact else "", full_text=tuple(full_text_keys(doc)))


# ----------------------------------------------------------------------------------- exact dedup

def _resolve_exact(element, stage: str, reason: str):
    _, grouped = element
    winner = grouped["winner"][0]
    winner_emitted = False
    for key in grouped["keys"]:
        if not winner_emitted and exact_rank(key.survivor, key.fingerprint) == winner:
            winner_emitted = True  # an identical second record with the same rank is a duplicate too
            yield KEPT, key, None
        else:
            yield DROPPED, key, key.drop(stage, reason, detail=survivor_id(winner))


class ExactDedupKeys(beam.PTransform):
    """DocKeys with `text_hash` -> `kept` / `dropped`: one survivor per text hash, the best by
    survivor rank then fingerprint (as `transforms.dedup.exact.choose_survivors`)."""

    def expand(self, keys):
        from transforms.dedup.exact import REASON, STAGE
        keyed = keys | "ByTextHash" >> beam.Map(lambda k: (k.text_hash, k))
        winners = (keyed | "Rank" >> beam.MapTuple(lambda h, k: (h, exact_rank(k.survivor, k.fingerprint)))
                   | "BestPerHash" >> beam.CombinePerKey(min))
        decided = ({"keys": keyed, "winner": winners} | "JoinWinner" >> beam.CoGroupByKey()
                   | "Resolve" >> beam.FlatMap(_resolve_exact, STAGE, REASON))
        return counted(decided, STAGE, "Count")


# ----------------------------------------------------------------------------------- full text

def _abstract_matches(item):
    key, grouped = item
    if grouped["paper"]:
        for abstract_id in sorted(set(grouped["abstract"])):
            yield abstract_id, key


def _route_abstracts(item, stage: str):
    _doc_id, grouped = item
    matches = sorted(set(grouped["match"]))
    for key in grouped["key"]:
        if matches:
            yield DROPPED, key, key.drop(stage, "has_full_text", detail=matches[0])
        else:
            yield KEPT, key, None


class FullTextKeys(beam.PTransform):
    """Abstracts whose PMID/PMCID belongs to a paper are dropped (`has_full_text`, detail: the shared
    key), as `transforms.extract.medline.drop_abstracts_with_full_text` decides on documents."""

    def __init__(self, stage: str = stages.FULLTEXT):
        super().__init__()
        self._stage = stage

    def expand(self, keys):
        paper_keys = (keys | "PapersOnly" >> beam.Filter(lambda k: k.subset == "papers")
                      | "PaperKeys" >> beam.FlatMap(lambda k: [(f, True) for f in k.full_text]))
        abstracts = keys | "AbstractsOnly" >> beam.Filter(lambda k: k.subset == "abstracts")
        abstract_keys = abstracts | "AbstractKeys" >> beam.FlatMap(lambda k: [(f, k.id) for f in k.full_text])
        matched = ({"paper": paper_keys, "abstract": abstract_keys} | "JoinKeys" >> beam.CoGroupByKey()
                   | "Matches" >> beam.FlatMap(_abstract_matches))
        routed = ({"key": abstracts | "ById" >> beam.Map(lambda k: (k.id, k)), "match": matched}
                  | "JoinMatches" >> beam.CoGroupByKey()
                  | "Route" >> beam.FlatMap(_route_abstracts, self._stage))
        others = (keys | "NotAbstracts" >> beam.Filter(lambda k: k.subset != "abstracts")
                  | "PassOthers" >> beam.Map(lambda k: (PASSED, k, None)))
        return counted((routed, others) | "All" >> beam.Flatten(), self._stage, "Count")


# ----------------------------------------------------------------------------------- near dedup

def _route_near(item, stage: str, reason: str):
    _, grouped = item
    losses = list(grouped["loss"])
    for key in grouped["key"]:
        if losses:
            yield DROPPED, key, key.drop(stage, reason, detail=survivor_id(losses[0]))
        else:
            yield KEPT, key, None


def candidate_refs(candidates, keys):
    """The (part, row) of every document a candidate edge names (loser or winner): only these need a
    verify payload, so the payloads shuffled are a few per duplicate, not one per document."""
    named = (candidates
             | "EdgeIds" >> beam.FlatMap(lambda edge: [(edge[0], True), (survivor_id(edge[1]), True)])
             | "DistinctIds" >> beam.CombinePerKey(lambda flags: True))
    return ({"named": named, "key": keys | "KeysById" >> beam.Map(lambda k: (k.id, k))}
            | "JoinNamed" >> beam.CoGroupByKey()
            | "NamedRefs" >> beam.FlatMap(lambda item: [k.ref for k in item[1]["key"]] if item[1]["named"] else []))


class NearDedupKeys(beam.PTransform):
    """Near dedup from precomputed bucket entries: (`keys` (DocKey), `candidates` (from
    `transforms.dedup.near.candidate_edges`), `payloads` ((id, verify payload) of the candidates'
    documents)) -> `kept` / `dropped`. Verification is `transforms.dedup.near`'s own."""

    def __init__(self, params):
        super().__init__()
        self._params = params

    def expand(self, inputs):
        from transforms.dedup.near import REASON, STAGE, verified_losses
        keys, candidates, payloads = inputs
        losses = verified_losses(candidates, payloads, self._params)
        routed = ({"key": keys | "ById" >> beam.Map(lambda k: (k.id, k)), "loss": losses}
                  | "JoinLosses" >> beam.CoGroupByKey()
                  | "Route" >> beam.FlatMap(_route_near, STAGE, REASON))
        return counted(routed, STAGE, "Count")


# ----------------------------------------------------------------------------------- PubMed updates

def _resolve_citation(item, stage: str):
    from transforms.extract.medline import Version, resolve_versions
    _citation, grouped = item
    versions = [Version(seq, key.id, key.fingerprint, key) for seq, key in grouped["key"]]
    kept, dropped = resolve_versions(versions, grouped["event"])
    for key in kept:
        yield KEPT, key, None
    for key, reason, detail in dropped:
        yield DROPPED, key, key.drop(stage, reason, detail)


class PubmedUpdateKeys(beam.PTransform):
    """(citations, events, update_lists, others) -> `kept` / `dropped`, as
    `transforms.extract.medline.apply_pubmed_updates` decides on documents.

    citations: ((source, pmid), (file_seq, DocKey)); events: ((source, pmid), (kind, file_seq));
    update_lists: (DocKey, detail) of the per-file update-list documents (always dropped); others: DocKey."""

    def __init__(self, stage: str):
        super().__init__()
        self._stage = stage

    def expand(self, inputs):
        citations, events, update_lists, others = inputs
        stage = self._stage
        resolved = ({"key": citations, "event": events} | "JoinEvents" >> beam.CoGroupByKey()
                    | "Resolve" >> beam.FlatMap(_resolve_citation, stage))
        lists = update_lists | "DropLists" >> beam.MapTuple(
            lambda key, detail: (DROPPED, key, dataclasses.replace(key.drop(stage, "update_list", detail), chars=0)))
        passed = others | "PassOthers" >> beam.Map(lambda k: (KEPT, k, None))
        return counted((resolved, lists, passed) | "All" >> beam.Flatten(), stage, "Count")


# ----------------------------------------------------------------------------------- the build's wiring
#
# What a build runs for its cross-document stages, shared with `gap dedup-eval` and the tests
# (`decide_on_documents`), so what is evaluated is what is built. `read(label, make, *, skips=None,
# only=None, tags=(DROPPED,))` is one `transforms.parts.DocumentPass` over the phase's part files
# (`gap_pipeline.pipeline._pass` in a build): its `make()` returns ([], emit), and emit(doc, part, row)
# yields the key records of one document as tagged outputs.


@dataclasses.dataclass
class Decisions:
    """What a cross-document phase decided: its drops (PCollections of Drop) and the (part, row) of
    every loser, to skip on the next read."""
    drops: list
    refs: "beam.PCollection"


def _split(dropped, label: str) -> tuple:
    """(DocKey, Drop) pairs -> (drops, (part, row) refs of the losers)."""
    drops = dropped | f"{label}Drops" >> beam.MapTuple(lambda _key, drop: drop)
    refs = dropped | f"{label}Refs" >> beam.MapTuple(lambda key, _drop: key.ref)
    return drops, refs


def citation_records(doc: Document, part: int, row: int, priority: Mapping[str, int]):
    """Key records for the PubMed-update decision. Documents that are not versioned citations pass it
    untouched: they are only counted (`pubmed_updates:kept`), no key is made for them."""
    from transforms.extract.medline import (UPDATES_STAGE, citation_version, is_update_list, update_list_drop,
                                            update_list_events)
    if is_update_list(doc):
        yield beam.pvalue.TaggedOutput("update_list", (doc_key(doc, part, row, priority), update_list_drop(doc).detail))
        for event in update_list_events(doc):
            yield beam.pvalue.TaggedOutput("event", event)
        return
    version = citation_version(doc)
    if version is None:
        Counters(UPDATES_STAGE).inc(KEPT)
    else:
        key = doc_key(doc, part, row, priority)
        yield beam.pvalue.TaggedOutput("citation", (version.citation, (version.file_seq, key)))


def pubmed_update_decisions(read, priority: Mapping[str, int]) -> Decisions:
    """The PubMed update files (newest version of each citation, deletions) decided on keys."""
    from transforms.extract.medline import UPDATES_STAGE
    priority = dict(priority)
    keys = read("CitationKeys", lambda: ([], lambda d, part, row: citation_records(d, part, row, priority)),
                tags=(DROPPED, "citation", "event", "update_list"))
    no_others = keys.citation.pipeline | "NoOtherKeys" >> beam.Create([])  # other documents were counted in the pass
    updates = ((keys.citation, keys.event, keys.update_list, no_others)
               | "PubmedUpdates" >> PubmedUpdateKeys(UPDATES_STAGE))
    drops, refs = _split(updates[DROPPED], "Updates")
    return Decisions([drops], refs)


def _dedup_key(doc: Document, part: int, row: int, priority: Mapping[str, int]):
    yield beam.pvalue.TaggedOutput("key", doc_key(doc, part, row, priority, exact=True))


def _bucket_entries(doc: Document, _part: int, _row: int, params, priority: Mapping[str, int]):
    from transforms.dedup.near import sketch
    for entry in sketch([doc], params, priority)[0]:
        yield beam.pvalue.TaggedOutput("entry", entry)


def _payloads(doc: Document, _part: int, _row: int, params, priority: Mapping[str, int]):
    from transforms.dedup.near import sketch
    for payload in sketch([doc], params, priority)[1]:
        yield beam.pvalue.TaggedOutput("payload", payload)


def dedup_decisions(read, priority: Mapping[str, int], params, *, exact: bool = True, near: bool = True) -> Decisions:
    """Abstracts with full text and exact duplicates (keys), then near duplicates (MinHash sketches of
    the survivors; verify payloads only for the documents a candidate edge names)."""
    from transforms.dedup.near import candidate_edges
    priority = dict(priority)
    keys = read("DedupKeys", lambda: ([], lambda doc, part, row: _dedup_key(doc, part, row, priority)),
                tags=(DROPPED, "key"))
    fulltext = keys.key | "FullText" >> FullTextKeys(stages.FULLTEXT)
    drop_lists = [fulltext[DROPPED]]
    survivors = fulltext[KEPT]
    if exact:
        decided = survivors | "ExactDedup" >> ExactDedupKeys()
        drop_lists.append(decided[DROPPED])
        survivors = decided[KEPT]
    drops, refs = _split(drop_lists | "KeyDrops" >> beam.Flatten(), "Dedup")
    if not near:
        return Decisions([drops], refs)
    sketches = read("Sketch", lambda: ([], lambda doc, part, row: _bucket_entries(doc, part, row, params, priority)),
                    skips=refs, tags=(DROPPED, "entry"))
    candidates = candidate_edges(sketches.entry)
    payloads = read("Payloads", lambda: ([], lambda doc, part, row: _payloads(doc, part, row, params, priority)),
                    only=candidate_refs(candidates, survivors), tags=(DROPPED, "payload"))
    decided = (survivors, candidates, payloads.payload) | "NearDedup" >> NearDedupKeys(params)
    near_drops, near_refs = _split(decided[DROPPED], "Near")
    return Decisions([drops, near_drops], (refs, near_refs) | "AllRefs" >> beam.Flatten())


CLUSTER_STAGES = (stages.DEDUP_EXACT, stages.DEDUP_NEAR)


def cluster_survivor(drop: Drop) -> tuple[str, str] | None:
    """(stage, survivor id) of a duplicate's drop (its detail names the document that survived), else None."""
    return (drop.stage, drop.detail) if drop.stage in CLUSTER_STAGES and drop.detail else None


def cluster_size_stats(drops: list, label: str = "Clusters"):
    """The duplicate clusters counted by size, as manifest statistics `dedup_cluster\tSTAGE\tSIZE`: a
    cluster is a survivor plus every document dropped as its duplicate. Shuffles (stage, survivor id) keys
    only, one per duplicate; what is summed in the end is one record per (stage, size)."""
    return (drops | f"{label}Drops" >> beam.Flatten()
            | f"{label}Survivors" >> beam.Map(cluster_survivor)
            | f"{label}Duplicates" >> beam.Filter(lambda key: key is not None)
            | f"{label}PerSurvivor" >> beam.combiners.Count.PerElement()
            | f"{label}Sizes" >> beam.MapTuple(lambda key, n: stat("dedup_cluster", key[0], str(n + 1)))
            # Beam's inference misreads stat()'s keyword-only counts as strings: state the statistic's type
            .with_output_types(Tuple[str, Tuple[int, int, int]]))


def decide_on_documents(docs: Iterable[Document], decide, options=None) -> tuple[list[Drop], dict[str, int]]:
    """Run a build's cross-document wiring (`decide(read) -> Decisions`, e.g. `dedup_decisions`) over
    in-memory documents, held in one part file as a build holds them, on Beam's local runner. Returns
    (the drops in a fixed order, the run's `gap` counters). For `gap dedup-eval` and tests."""
    import os
    import tempfile
    from pathlib import Path

    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions

    from schemas.events import drop_from_json
    from schemas.jsonl import jsonl_lines
    from transforms.docfiles import part_file, write_documents
    from transforms.parts import DocumentPass, parts_with_skips

    with tempfile.TemporaryDirectory(prefix="gap-decide-") as tmp:
        paths = [part_file(tmp, 0)]
        write_documents(paths[0], docs)
        pipeline = beam.Pipeline(options=options or PipelineOptions(["--runner=FnApiRunner"]))

        def read(label, make, *, skips=None, only=None, tags=(DROPPED,)):
            return (parts_with_skips(pipeline, label, paths, skips, only)
                    | label >> beam.ParDo(DocumentPass(make)).with_outputs(*tags, main="main"))

        drops = decide(read).drops
        # Results leave through a file: the local runner may run DoFns in other processes.
        (drops | "AllDrops" >> beam.Flatten() | "DropJson" >> beam.Map(lambda d: d.to_json())
         | "WriteDrops" >> beam.io.WriteToText(os.path.join(tmp, "drops")))
        result = pipeline.run()
        result.wait_until_finish()
        lines = [line for path in sorted(Path(tmp).glob("drops*")) for _, line in jsonl_lines(path.read_bytes())]
    counters: dict[str, int] = {}
    for counter in result.metrics().query(MetricsFilter().with_namespace("gap"))["counters"]:  # one per step
        counters[counter.key.metric.name] = counters.get(counter.key.metric.name, 0) + counter.committed
    return sorted((drop_from_json(line) for line in lines), key=lambda d: d.to_json()), counters
