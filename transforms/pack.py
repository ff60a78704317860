"""Packing: documents (BOS + tokens + EOS) concatenated and cut into rows of seq_len + 1 tokens.

Packing happens inside each (subset, split, bucket), or (subset, source, split, bucket) when the mixture
is by source (`by_source`: every row then holds one source's tokens and carries a `source` field, so
rows can be sampled per source). The number of buckets follows the data: each packing group (subset,
split[, source]) gets ceil(tokens / bucket_tokens) buckets, counted from the documents' lengths (small
records), and a document goes to bucket hash(seed, id) % count. A bucket thus holds about
`bucket_tokens` tokens whatever the corpus size (one worker holds one bucket), and documents are sorted
by id inside a bucket so the rows depend neither on arrival order nor on the worker count. Long
documents span rows and are never cropped. The tokens after the last full row of a bucket are the tail
waste; it is counted per subset for the manifest.

Each row records its provenance: `doc_ids` are the documents with tokens in the row, in order, and
`doc_starts[i]` is the position in the row where doc_ids[i] begins (its BOS). It is negative when the
document began in an earlier row (-300: it started 300 tokens before this row), so any row can be
traced back to exact document offsets.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

from transforms.split import stable_hash

ROWS = "rows"
WASTE = "waste"


def pack_tokens(docs: Iterable[tuple[str, Sequence[int]]], seq_len: int) -> tuple[list[dict[str, Any]], int]:
    """Concatenate the documents' ids and cut rows of seq_len + 1; returns (rows, tail_waste_tokens).

    Row: {"input_ids": np.ndarray[uint32] (seq_len + 1), "doc_ids": [str], "doc_starts": [int]}.
    """
    if seq_len < 1:
        raise ValueError("seq_len must be positive")
    width = seq_len + 1
    ids_parts: list[np.ndarray] = []
    doc_ids: list[str] = []
    for doc_id, ids in docs:
        if len(ids) == 0:
            continue
        doc_ids.append(doc_id)
        ids_parts.append(np.asarray(ids, dtype=np.uint32))
    if not ids_parts:
        return [], 0
    lengths = np.fromiter((len(p) for p in ids_parts), dtype=np.int64, count=len(ids_parts))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))  # each document's offset in the stream
    ends = starts + lengths
    stream = np.concatenate(ids_parts)
    n_rows = len(stream) // width
    waste = int(len(stream) - n_rows * width)
    table = stream[: n_rows * width].reshape(n_rows, width)
    rows: list[dict[str, Any]] = []
    first = 0  # first document that may still have tokens at this row
    for r in range(n_rows):
        row_start, row_end = r * width, (r + 1) * width
        while ends[first] <= row_start:
            first += 1
        last = first
        while last + 1 < len(starts) and starts[last + 1] < row_end:
            last += 1
        rows.append({
            "input_ids": table[r],
            "doc_ids": doc_ids[first:last + 1],
            "doc_starts": [int(s - row_start) for s in starts[first:last + 1]],
        })
    return rows, waste


def bucket_of(doc_id: str, buckets: int, seed: int) -> int:
    return stable_hash("bucket", seed, doc_id) % buckets


def bucket_count(tokens: int, bucket_tokens: int) -> int:
    """Buckets for a packing group of `tokens` tokens: about `bucket_tokens` each, at least one."""
    if bucket_tokens < 1:
        raise ValueError("bucket_tokens must be >= 1")
    return max(1, -(-int(tokens) // bucket_tokens))


def group_of(element: tuple, by_source: bool) -> tuple:
    """The packing group of a tokenized document: (subset, split), plus the source when `by_source`."""
    if by_source:
        if len(element) != 5:
            raise ValueError("Pack(by_source=True) takes (subset, split, doc_id, ids, source) elements")
        return element[0], element[1], element[4]
    if len(element) != 4:
        raise ValueError("Pack takes (subset, split, doc_id, ids) elements (by_source=False)")
    return element[0], element[1]


def bucket_key(element: tuple, group_tokens: Mapping[tuple, int], bucket_tokens: int, seed: int,
               by_source: bool = False) -> tuple[tuple, tuple[str, np.ndarray]]:
    """A tokenized document -> ((subset, split, bucket[, source]), (doc_id, ids)), where the bucket is
    hash(seed, doc_id) % ceil(group tokens / bucket_tokens)."""
    group = group_of(element, by_source)
    bucket = bucket_of(element[2], bucket_count(group_tokens[group], bucket_tokens), seed)
    subset, split, *source = group
    # A uint32 array crosses the shuffle as one buffer; a list of ints is coded id by id (several times slower).
    return (subset, split, bucket, *source), (element[2], np.asarray(element[3], dtype=np.uint32))


class Pack(beam.PTransform):
    """PCollection[(subset, split, doc_id, ids)] -> outputs "rows" (main) and "waste".

    With `by_source=True` the input is (subset, split, doc_id, ids, source), packing groups by
    (subset, source, split, bucket) and every row also has `source`. `bucket_tokens` is the target size
    of a packing bucket; the tokens per group are summed from the lengths (a side input with one entry
    per packing group, i.e. bounded by subsets x splits x sources).
    Row: {subset, split, bucket, index, input_ids, doc_ids, doc_starts} (index = row number in its
    packing group). Waste: (subset, split, tokens) for every group (sum them per subset for the manifest),
    also counted as `pack:tail_waste_tokens_<subset>`; rows are counted as `pack:rows_<subset>_<split>`,
    non-empty buckets as `pack:buckets_<subset>_<split>`.
    """

    def __init__(self, seq_len: int, bucket_tokens: int, seed: int = 0, by_source: bool = False):
        super().__init__()
        if isinstance(bucket_tokens, bool) or not isinstance(bucket_tokens, int) or bucket_tokens < 1:
            raise ValueError(f"bucket_tokens must be an integer >= 1, got {bucket_tokens!r}")
        self._seq_len = seq_len
        self._bucket_tokens = bucket_tokens
        self._seed = seed
        self._by_source = by_source

    def expand(self, docs):
        seq_len, bucket_tokens, seed, by_source = self._seq_len, self._bucket_tokens, self._seed, self._by_source

        # Tokens per packing group, from lengths only: one small entry per (subset, split[, source]).
        group_tokens = (docs
                        | "GroupLength" >> beam.Map(lambda e: (group_of(e, by_source), len(e[3])))
                        | "GroupTokens" >> beam.CombinePerKey(sum))
        tokens_side = beam.pvalue.AsDict(group_tokens)

        def pack_bucket(keyed):
            (subset, split, bucket, *source), items = keyed
            ordered = sorted(items, key=lambda item: item[0])
            rows, waste = pack_tokens(ordered, seq_len)
            Metrics.counter("gap", f"pack:rows_{subset}_{split}").inc(len(rows))
            Metrics.counter("gap", f"pack:buckets_{subset}_{split}").inc()  # non-empty buckets: shows the layout
            Metrics.counter("gap", f"pack:tail_waste_tokens_{subset}").inc(waste)
            yield beam.pvalue.TaggedOutput(WASTE, (subset, split, waste))
            extra = {"source": source[0]} if source else {}
            for index, row in enumerate(rows):
                yield {"subset": subset, "split": split, "bucket": bucket, **extra, "index": index, **row}

        return (docs
                | "Bucket" >> beam.Map(bucket_key, tokens_side, bucket_tokens, seed, by_source)
                | "Group" >> beam.GroupByKey()
                | "PackBucket" >> beam.FlatMap(pack_bucket).with_outputs(WASTE, main=ROWS))
