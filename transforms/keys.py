"""Cross-document decisions on small key records, never on texts.

Every cross-document stage (PubMed update files, abstracts with full text, exact and near dedup) only
needs a few facts per document: where it lives (part file, row), its id, source, subset and length, its
survivor rank, a hash of its text, the PMID/PMCID keys. `DocKey` carries exactly those (~200 bytes
whatever the text's length); decisions are made on them with the same plain functions as before and
come back as (DocKey, Drop) pairs, whose (part, row) is then used to skip the loser when the part file
is read again. So what crosses a shuffle grows with the number of documents, never with their text.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping

import apache_beam as beam

from schemas import stages
from schemas.document import Document
from schemas.events import Drop
from transforms.dedup.survivor import exact_rank, survivor_id
from transforms.stage import Counters

KEPT = "kept"
DROPPED = "dropped"
PASSED = "passed"


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
        return Drop(doc_id=self.id, source=self.source, subset=self.subset, stage=stage, reason=reason,
                    chars=self.chars, detail=detail)


def doc_key(doc: Document, part: int, row: int, priority: Mapping[str, int], *, exact: bool = False) -> DocKey:
    from transforms.dedup.exact import fingerprint, text_hash
    from transforms.dedup.survivor import survivor_key
    from transforms.extract.medline import full_text_keys

    return DocKey(part=part, row=row, id=doc.id, source=doc.source, subset=doc.subset, chars=len(doc.text),
                  survivor=survivor_key(doc, priority), fingerprint=fingerprint(doc),
                  text_hash=text_hash(doc.text) if exact else "", full_text=tuple(full_text_keys(doc)))


class _Counted(beam.DoFn):
    """Counts each decision as `stage:kept` / `stage:reason` and splits drops from kept keys."""

    def __init__(self, stage: str):
        self._stage = stage

    def setup(self):
        self._counters = Counters(self._stage)

    def _count(self, reason: str) -> None:
        self._counters.inc(reason)

    def process(self, item):
        kind, key, drop = item
        if kind == PASSED:  # not judged by this stage (e.g. a paper at the full-text stage): not counted
            yield key
        elif kind == KEPT:
            self._count("kept")
            yield key
        else:
            self._count(drop.reason)
            yield beam.pvalue.TaggedOutput(DROPPED, (key, drop))


def counted(pcoll, stage: str, label: str):
    """(KEPT | PASSED, key, None) | (DROPPED, key, Drop) -> outputs `kept` (DocKey) and `dropped` ((DocKey, Drop))."""
    return pcoll | label >> beam.ParDo(_Counted(stage)).with_outputs(DROPPED, main=KEPT)


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
    key), as `transforms.extract.medline.DropAbstractsWithFullText` does with documents."""

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
    `transforms.extract.medline.ApplyPubmedUpdates` decides on documents.

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


def losses_by_part(dropped) -> "beam.PCollection":
    """(DocKey, Drop) -> (part, row): the rows to skip when the part file is read again."""
    return dropped | "LoserRefs" >> beam.MapTuple(lambda key, _drop: key.ref)


def drops_of(dropped: Iterable) -> "beam.PCollection":
    return dropped | "Drops" >> beam.MapTuple(lambda _key, drop: drop)
