"""The one Beam pipeline: raw store -> documents -> filters -> dedup -> split -> tokens -> mixed Arrow shards.

Stage order (DESIGN.md): read raw store -> extract -> boilerplate + clean -> quality -> abstracts with full
text -> exact dedup -> near dedup -> language -> decontaminate -> split -> tokenizer -> tokenize -> pack
-> mix -> shards. Every stage's logic lives in `transforms/`; this module only wires them and routes the
three kinds of outcome (kept documents, drops with a reason, quarantined records with an error) to files
that `gap_pipeline.manifest` turns into the manifest's accounting after the run.
"""
from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Iterable

import apache_beam as beam
from apache_beam.metrics import Metrics

from gap_pipeline.outputs import WriteSorted, encode_json, encode_jsonl, encode_parquet, join_path, write_bytes
from schemas.document import DOCUMENT_SCHEMA, Document
from schemas.events import Drop, Quarantined
from schemas.raw import RawRecord, RawRecordError
from transforms.extract import ExtractError, ExtractOptions, extract_record
from transforms.extract.encoding import GUESSED_ORIGINS
from transforms.stage import DROPPED, DocumentStage


QUARANTINE = "quarantine"
STATS = "stats"


@dataclasses.dataclass(frozen=True)
class SourceRules:
    """What the pipeline needs from a source spec (the spec stays the one source of truth)."""
    subset: str
    priority: int
    license: str
    redistributable: bool
    publisher: str
    rules: dict  # the spec's content + cleaning sections


def stat(kind: str, *key: str, docs: int = 1, chars: int = 0, tokens: int = 0):
    return ("\t".join((kind,) + tuple(key)), (docs, chars, tokens))


def _sum_stats(values: Iterable[tuple[int, int, int]]) -> tuple[int, int, int]:
    d = c = t = 0
    for a, b, e in values:
        d, c, t = d + a, c + b, t + e
    return d, c, t


# --------------------------------------------------------------------------- read + extract

class ReadRawParts(beam.DoFn):
    """Read one raw-store Parquet part in row batches; a row that breaks the contract is quarantined.

    Input: (part number in path order, path). Output: ((source, url), (part number, row number, record)),
    so that `latest_versions` can keep the newest version of a re-crawled page (a re-crawl appends).
    """

    def __init__(self, selected_sources: tuple[str, ...]):
        self._selected = set(selected_sources)

    def process(self, numbered_path):
        import pyarrow.parquet as pq
        from apache_beam.io.filesystems import FileSystems

        part_number, path = numbered_path
        row_number = -1
        with FileSystems.open(path) as fh:
            pf = pq.ParquetFile(fh, pre_buffer=False)  # a Python file: read in this thread only (read_parquet_file)
            for batch in pf.iter_batches(batch_size=64, use_threads=False):
                for row in batch.to_pylist():
                    row_number += 1
                    source = row.get("source") or "unknown"
                    yield beam.pvalue.TaggedOutput(STATS, stat("raw_in", source, chars=len(row.get("content") or b"")))
                    if self._selected and source not in self._selected:
                        yield beam.pvalue.TaggedOutput(STATS, stat("raw_excluded", source))
                        continue
                    try:
                        record = RawRecord.from_row(row)
                        record.validate()
                    except (RawRecordError, TypeError) as exc:
                        yield beam.pvalue.TaggedOutput(QUARANTINE, Quarantined(
                            source=source, url=str(row.get("url") or ""), stage="read", error=str(exc),
                            sha256=str(row.get("sha256") or ""), content_type=str(row.get("content_type") or "")))
                        continue
                    yield (record.source, record.url), (part_number, row_number, record)


def _newest(versions: Iterable[tuple[int, int, RawRecord]]) -> tuple[int, int, RawRecord]:
    return max(versions, key=lambda v: (v[0], v[1]))


class LatestVersions(beam.PTransform):
    """Keep the newest version of each (source, url); older ones are counted as `raw_superseded`."""

    def expand(self, keyed):
        grouped = keyed | "CountVersions" >> beam.combiners.Count.PerKey()
        newest = keyed | "Newest" >> beam.CombinePerKey(_newest)
        superseded = grouped | "Superseded" >> beam.FlatMap(
            lambda kv: [stat("raw_superseded", kv[0][0], docs=kv[1] - 1)] if kv[1] > 1 else [])
        records = newest | "Record" >> beam.MapTuple(lambda key, version: version[2])
        return records, superseded


class ExtractDocuments(beam.DoFn):
    """Raw record -> documents (and extract-stage drops); unusable records go to quarantine."""

    def __init__(self, sources: dict[str, SourceRules], options: ExtractOptions):
        self._sources, self._options = sources, options
        self._quarantined = Metrics.counter("gap", "extract:quarantined")

    def process(self, raw: RawRecord):
        spec = self._sources.get(raw.source)
        if spec is None:
            self._quarantined.inc()
            yield beam.pvalue.TaggedOutput(QUARANTINE, Quarantined(
                source=raw.source, url=raw.url, stage="extract", error=f"no source spec named {raw.source!r}",
                sha256=raw.sha256, content_type=raw.content_type))
            return
        try:
            results = extract_record(raw, subset=spec.subset, options=self._options, rules=spec.rules)
            if not results:
                raise ExtractError("no documents found in record")
        except ExtractError as exc:
            self._quarantined.inc()
            yield beam.pvalue.TaggedOutput(QUARANTINE, Quarantined(
                source=raw.source, url=raw.url, stage="extract", error=str(exc) or type(exc).__name__,
                sha256=raw.sha256, content_type=raw.content_type))
            return
        except Exception as exc:  # a parser bug must not kill a corpus build: quarantine with the traceback type
            self._quarantined.inc()
            yield beam.pvalue.TaggedOutput(QUARANTINE, Quarantined(
                source=raw.source, url=raw.url, stage="extract", error=f"{type(exc).__name__}: {exc}",
                sha256=raw.sha256, content_type=raw.content_type))
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
                origin = doc.meta_dict().get("encoding_origin")
                if origin in GUESSED_ORIGINS:
                    Metrics.counter("gap", f"extract:encoding_{origin}").inc()
            if not doc.license or doc.license == "unknown":
                doc = doc.replace(license=spec.license)
            yield beam.pvalue.TaggedOutput(STATS, stat("extracted", doc.source, doc.subset, chars=len(doc.text)))
            yield doc


# --------------------------------------------------------------------------- assembly

def _stage(pcoll, drops: list, name: str, transform):
    out = pcoll | name >> transform
    drops.append(out[DROPPED])
    return out["kept"]


def build(p: beam.Pipeline, cfg: dict[str, Any], *, parts: list[str], out_dir: str,
          sources: dict[str, SourceRules], tokenizer_model: bytes | None) -> None:
    """Add every stage to `p`. `parts` are the raw-store Parquet files (checked readable by the caller)."""
    from transforms import clean, decontaminate, language, quality, split
    from transforms.dedup.exact import ExactDedup
    from transforms.dedup.near import MinHashParams, NearDedup
    from transforms.extract.medline import ApplyPubmedUpdates, DropAbstractsWithFullText
    from transforms.mix import Mix
    from transforms.pack import Pack
    from transforms.shards import WriteShards
    from transforms.tokenizer import TrainTokenizer

    seed = cfg["seed"]
    drops: list = []
    quarantines: list = []
    stats: list = []

    read = (p | "ListParts" >> beam.Create(list(enumerate(sorted(parts)))) | "Reshuffle" >> beam.Reshuffle()
            | "ReadRaw" >> beam.ParDo(ReadRawParts(tuple(cfg["sources"]))).with_outputs(QUARANTINE, STATS, main="raw"))
    quarantines.append(read[QUARANTINE])
    stats.append(read[STATS])
    raw, superseded = read["raw"] | "LatestVersions" >> LatestVersions()
    stats.append(superseded)

    extracted = raw | "Extract" >> beam.ParDo(
        ExtractDocuments(sources, ExtractOptions.from_config(cfg["extract"]))).with_outputs(
        QUARANTINE, STATS, DROPPED, main="docs")
    quarantines.append(extracted[QUARANTINE])
    stats.append(extracted[STATS])
    drops.append(extracted[DROPPED])
    docs = extracted["docs"]
    # PubMed update files: newest version of each citation, DeleteCitation honoured.
    docs = _stage(docs, drops, "PubmedUpdates", ApplyPubmedUpdates(stage="pubmed_updates"))

    # Cleaning: statistical boilerplate per source first, then each source's spec rules.
    c = cfg["clean"]
    # Corpus-wide cleaning defaults; a source's spec may override them.
    rules_by_source = {name: {**s.rules, "cleaning": {"remove_urls": c["remove_urls"], **s.rules.get("cleaning", {})}}
                       for name, s in sources.items()}
    docs = _stage(docs, drops, "Boilerplate", clean.BoilerplateLines(c["boilerplate_min_docs"],
                                                                     c["boilerplate_min_fraction"]))
    docs = _stage(docs, drops, "Clean", DocumentStage("clean", clean.clean_fn(rules_by_source)))
    docs = _stage(docs, drops, "Quality", DocumentStage("quality", quality.quality_fn(cfg["quality"])))
    docs = _stage(docs, drops, "AbstractsWithFullText", DropAbstractsWithFullText(stage="fulltext"))

    d = cfg["dedup"]
    priority = dict(d["subset_priority"])
    if d["exact"]:
        docs = _stage(docs, drops, "ExactDedup", ExactDedup(priority))
    if d["near"]:
        params = MinHashParams.from_config(d)
        docs = _stage(docs, drops, "NearDedup", NearDedup(params, priority))
    docs = _stage(docs, drops, "Language", DocumentStage("language", language.language_fn(
        language.LanguageSettings.from_config(cfg["language"], seed=seed))))
    bench = cfg["decontamination"]
    if bench["benchmarks"]:
        index = decontaminate.load_benchmark_ngrams(bench["benchmarks"], bench["ngram"])
        docs = _stage(docs, drops, "Decontaminate", DocumentStage(
            "decontaminate", decontaminate.decontaminate_fn(index, bench["ngram"])))

    # Kept documents: written for export/report, then split before packing (no document straddles splits).
    docs | "WriteDocuments" >> WriteSorted(join_path(out_dir, "documents"), "documents", _document_key,
                                           _encode_documents, ".parquet", size=lambda doc: len(doc.text) + 512)
    fractions = cfg["split"]["validation_fraction"]
    with_split = docs | "Split" >> beam.Map(lambda doc: (split.assign_split(doc.id, doc.subset, fractions, seed), doc))

    tok = cfg["tokenizer"]
    if tokenizer_model is None:
        model = docs | "TrainTokenizer" >> TrainTokenizer(tok, seed)
    else:
        model = p | "GivenTokenizer" >> beam.Create([tokenizer_model])
    model | "WriteTokenizer" >> beam.Map(lambda blob: write_bytes(join_path(out_dir, "tokenizer.model"), blob))
    model_side = beam.pvalue.AsSingleton(model)

    tokenized = with_split | "Tokenize" >> beam.ParDo(_Tokenize(), model_side)
    stats.append(tokenized | "TokenStats" >> beam.Map(
        lambda t: stat("tokens", t[4], t[0], t[1], docs=1, tokens=len(t[3]))))
    stats.append(docs | "KeptChars" >> beam.Map(lambda doc: stat("kept_chars", doc.source, chars=len(doc.text))))
    seq_len = cfg["packing"]["seq_len"]
    m = cfg["mixture"]
    by_source = m["by"] == "source"
    if by_source:  # shares/factors name sources: every one must be a source this build reads
        from gap_pipeline.config import ConfigError
        named = m["shares"] if m["mode"] == "shares" else m["factors"] if m["mode"] == "factors" else {}
        unknown = sorted(k for k, v in named.items() if v and k not in sources)
        if unknown:
            raise ConfigError(f"mixture.{m['mode']}: no source named {', '.join(unknown)} in this build "
                              f"(mixture.by is source; sources: {', '.join(sorted(sources))})")
    else:
        tokenized = tokenized | "DropSource" >> beam.Map(lambda t: t[:4])
    packed = tokenized | "Pack" >> Pack(seq_len, cfg["packing"]["buckets"], seed, by_source=by_source)
    rows = packed["rows"]
    stats.append(packed["waste"] | "WasteStats" >> beam.Map(
        lambda w: stat("pack_waste", w[0], w[1], docs=0, tokens=w[2])))

    train = rows | "TrainRows" >> beam.Filter(lambda r: r["split"] == "train")
    validation = rows | "ValidationRows" >> beam.Filter(lambda r: r["split"] == "validation")
    mix = Mix(m["mode"], m["shares"], m["factors"], seed, seq_len=seq_len, by=m["by"])
    mixed = train | "Mix" >> mix
    mix.report | "WriteMixture" >> beam.Map(lambda report: write_bytes(
        join_path(out_dir, "_build", "mixture.json"), encode_json(report)))
    vocab_side = beam.pvalue.AsSingleton(model | "VocabSize" >> beam.Map(_vocab_size))
    sh = cfg["shards"]
    train_shards = mixed | "WriteTrain" >> WriteShards(join_path(out_dir, "train"), "train", seq_len, vocab_side,
                                                       sh["target_bytes"], seed, with_source=by_source)
    val_shards = validation | "WriteValidation" >> WriteShards(join_path(out_dir, "validation"), "validation",
                                                               seq_len, vocab_side, sh["target_bytes"], seed,
                                                               with_source=by_source)
    ((train_shards, val_shards) | "AllShards" >> beam.Flatten()
     | "ShardList" >> beam.combiners.ToList()
     | "WriteShardList" >> beam.Map(lambda infos: write_bytes(
         join_path(out_dir, "_build", "shards.json"), encode_json(sorted(infos, key=lambda i: i["path"])))))

    (drops | "AllDrops" >> beam.Flatten()
     | "WriteDrops" >> WriteSorted(join_path(out_dir, "dropped"), "dropped",
                                   lambda drop: f"{drop.stage}\t{drop.doc_id}\t{drop.to_json()}", _encode_events, ".jsonl",
                                   size=lambda drop: 200 + len(drop.detail)))
    (quarantines | "AllQuarantine" >> beam.Flatten()
     | "WriteQuarantine" >> WriteSorted(join_path(out_dir, "quarantine"), "quarantine",
                                        lambda q: f"{q.stage}\t{q.source}\t{q.url}\t{q.sha256}", _encode_events, ".jsonl",
                                        size=lambda q: 200 + len(q.error)))
    (stats | "AllStats" >> beam.Flatten() | "SumStats" >> beam.CombinePerKey(_sum_stats)
     | "StatList" >> beam.combiners.ToList()
     | "WriteStats" >> beam.Map(lambda items: write_bytes(
         join_path(out_dir, "_build", "stats.json"), encode_json({k: list(v) for k, v in sorted(items)}))))


class _Tokenize(beam.DoFn):
    """(split, doc) -> (subset, split, doc_id, ids, source), loading the model once per worker."""

    def setup(self):
        self._sp = None

    def process(self, item, model: bytes):
        from transforms.tokenizer import encode_document, load_tokenizer
        if self._sp is None:  # one model per pipeline: load it once per worker
            self._sp = load_tokenizer(model)
        split_name, doc = item
        yield doc.subset, split_name, doc.id, encode_document(self._sp, doc.text), doc.source


def _document_key(doc: Document) -> str:
    # The text hash breaks ties, so two documents sharing an id still land in a fixed order.
    return f"{doc.id}\t{hashlib.sha256(doc.text.encode('utf-8')).hexdigest()}"


def _vocab_size(model: bytes) -> int:
    from transforms.tokenizer import load_tokenizer
    return int(load_tokenizer(model).get_piece_size())


def _encode_documents(docs: list[Document]) -> bytes:
    return encode_parquet(DOCUMENT_SCHEMA)([doc.to_row() for doc in docs])


def _encode_events(events: list) -> bytes:
    return encode_jsonl(e.to_json() for e in events)
