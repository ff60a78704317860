"""Packing: documents (BOS + tokens + EOS) concatenated and cut into rows of seq_len + 1 tokens.

Packing streams through each documents part: inside a part, every packing group (subset, split), or
(subset, split, source) when the mixture is by source (every row then holds one source's tokens, so rows
can be sampled per source), concatenates its documents in the part's row order and cuts a row as soon
as seq_len + 1 tokens are there (`Packer`). A packer holds less than one row plus the document being
added, whatever the part's or the corpus's size, and the rows depend only on the part's documents:
not on arrival order, bundles or the worker count. Rows go to the part's row file
(transforms/rowfiles.py); only one small record per (part, group) (rows, estimated bytes) leaves the
pass, for the mixture plan. Long documents span rows and are never cropped. The tokens after a group's
last full row in a part are its tail waste, counted per subset for the manifest (less than one row per
(part, group)).

Each row records its provenance: `doc_ids` are the documents with tokens in the row, in order, and
`doc_starts[i]` is the position in the row where doc_ids[i] begins (its BOS). It is negative when the
document began in an earlier row (-300: it started 300 tokens before this row), so any row can be
traced back to exact document offsets.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics

GROUPS = "groups"


class Packer:
    """One packing group's stream: `add(doc_id, ids)` returns the rows completed by that document;
    `finish()` returns the tail waste (tokens after the last full row) and starts afresh.

    Row: {"input_ids": np.ndarray[uint32] (seq_len + 1), "doc_ids": [str], "doc_starts": [int]}."""

    def __init__(self, seq_len: int):
        if seq_len < 1:
            raise ValueError("seq_len must be positive")
        self.width = seq_len + 1
        self._pieces: list[np.ndarray] = []   # tokens not yet in a row (less than one row between adds)
        self._held = 0
        self._docs: list[tuple[str, int]] = []  # (doc_id, start relative to the first held token)

    def add(self, doc_id: str, ids: Sequence[int]) -> list[dict[str, Any]]:
        if len(ids) == 0:
            return []
        self._docs.append((doc_id, self._held))
        self._pieces.append(np.asarray(ids, dtype=np.uint32))
        self._held += len(ids)
        if self._held < self.width:
            return []
        width = self.width
        stream = np.concatenate(self._pieces) if len(self._pieces) > 1 else self._pieces[0]
        n_rows = self._held // width
        starts = [start for _, start in self._docs]
        ends = starts[1:] + [self._held]
        rows, first = [], 0
        for r in range(n_rows):
            row_start, row_end = r * width, (r + 1) * width
            while ends[first] <= row_start:
                first += 1
            last = first
            while last + 1 < len(starts) and starts[last + 1] < row_end:
                last += 1
            rows.append({"input_ids": stream[row_start:row_end],
                         "doc_ids": [doc for doc, _ in self._docs[first:last + 1]],
                         "doc_starts": [s - row_start for s in starts[first:last + 1]]})
        cut = n_rows * width
        self._pieces = [stream[cut:].copy()] if cut < self._held else []  # not a view: frees the stream
        self._docs = [(doc, start - cut) for (doc, start), end in zip(self._docs, ends) if end > cut]
        self._held -= cut
        return rows

    def finish(self) -> int:
        waste, self._pieces, self._held, self._docs = self._held, [], 0, []
        return waste


def pack_tokens(docs: Iterable[tuple[str, Sequence[int]]], seq_len: int) -> tuple[list[dict[str, Any]], int]:
    """Concatenate the documents' ids and cut rows of seq_len + 1; returns (rows, tail_waste_tokens)."""
    packer = Packer(seq_len)
    rows = [row for doc_id, ids in docs for row in packer.add(doc_id, ids)]
    return rows, packer.finish()


def estimated_row_bytes(row: dict[str, Any], id_bytes: int) -> int:
    """What a row costs in a shard, to size the shards from small records."""
    ids = len(row["input_ids"]) * id_bytes
    docs = sum(len(d) for d in row["doc_ids"]) + 8 * len(row["doc_ids"]) + 4 * len(row["doc_starts"])
    return ids + docs + len(row["subset"]) + 16 + (len(row["source"]) + 4 if row.get("source") else 0)


class PackPart:
    """The tokens pass's emit (transforms/parts.py DocumentPass): each document is given its split,
    encoded in batches of up to 256 documents or 4 MiB (a tokenizer.json runs its Rust batch encoder over
    many at once; each document's ids do not depend on its batch) and packed into its group's stream; rows
    go to the part's row file. Emits the `tokens` statistic per document and, when the part is done,
    `pack_waste` and one GROUPS record per (part, group): ((split, subset, source, part), (rows, bytes))."""

    def __init__(self, model: bytes, tok: dict, fractions: dict, seed: int, by_source: bool, seq_len: int,
                 rows_folder: str, batch_docs: int = 256, batch_chars: int = 4 << 20):
        from transforms.tokenizer import load_encoder
        self._encoder = load_encoder(model, bos_token=tok["bos_token"], eos_token=tok["eos_token"])
        self._vocab = int(self._encoder.vocab_size)
        self._fractions, self._seed, self._by_source, self._seq_len = fractions, seed, by_source, seq_len
        self._folder = rows_folder
        self._batch_docs, self._batch_chars = batch_docs, batch_chars
        self._pending: list = []
        self._chars = 0
        self._part = None

    def start(self, part: int) -> None:
        from transforms.rowfiles import RowWriter, row_file, row_schema
        from schemas.shard import token_dtype
        self._part = part
        self._writer = RowWriter(row_file(self._folder, part), row_schema(self._seq_len, self._vocab), self._vocab)
        self._id_bytes = token_dtype(self._vocab).byte_width
        self._packers: dict[tuple[str, str, str], Packer] = {}
        self._counts: dict[tuple[str, str, str], list[int]] = {}

    def __call__(self, doc, _part: int, _row: int):
        from transforms import split
        self._pending.append((split.assign_split(doc.id, doc.subset, self._fractions, self._seed), doc))
        self._chars += len(doc.text)
        if len(self._pending) >= self._batch_docs or self._chars >= self._batch_chars:
            yield from self._encode()

    def _encode(self):
        from transforms.parts import STATS, stat
        pending, self._pending, self._chars = self._pending, [], 0
        if not pending:
            return
        for (split_name, doc), ids in zip(pending, self._encoder.encode_documents([d.text for _, d in pending])):
            yield beam.pvalue.TaggedOutput(STATS, stat("tokens", doc.source, doc.subset, split_name, tokens=len(ids)))
            group = (doc.subset, split_name, doc.source if self._by_source else "")
            packer = self._packers.get(group) or self._packers.setdefault(group, Packer(self._seq_len))
            counts = self._counts.setdefault(group, [0, 0])
            for row in packer.add(doc.id, ids):
                row.update(subset=group[0], split=group[1], source=group[2], index=counts[0])
                counts[0] += 1
                counts[1] += estimated_row_bytes(row, self._id_bytes)
                self._writer.add(row)

    def flush(self):
        from transforms.parts import STATS, stat
        yield from self._encode()
        self._writer.close()
        for group in sorted(self._packers):
            subset, split_name, source = group
            waste = self._packers[group].finish()
            rows, size = self._counts[group]
            Metrics.counter("gap", f"pack:rows_{subset}_{split_name}").inc(rows)
            Metrics.counter("gap", f"pack:tail_waste_tokens_{subset}").inc(waste)
            yield beam.pvalue.TaggedOutput(STATS, stat("pack_waste", subset, split_name, docs=0, tokens=waste))
            if rows:
                yield beam.pvalue.TaggedOutput(GROUPS, ((split_name, subset, source, self._part), (rows, size)))

    def abort(self) -> None:
        self._pending, self._chars = [], 0
        if self._part is not None:
            self._writer.abort()
