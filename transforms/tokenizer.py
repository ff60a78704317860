"""Sentencepiece tokenizer: train one on a deterministic sample of the corpus, or load an existing model.

Training is made reproducible: one thread, no input sampling or shuffling, documents in hash order,
and lines longer than `max_sentence_length` (bytes) wrapped first, because sentencepiece silently
skips such lines instead of failing. Normalisation is the identity and extra whitespace is kept, so
`decode(encode(text)) == text` (byte fallback covers characters outside the vocabulary).
"""
from __future__ import annotations

import hashlib
import io
from typing import Any, Iterable, Iterator, Mapping

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.document import Document
from transforms.split import stable_hash

# Structure markers emitted by extraction; each must be one token so they are never split.
SPECIAL_TOKENS = (
    "[BIB_REF]", "[/BIB_REF]", "[FIG_REF]", "[/FIG_REF]", "[FIG]", "[/FIG]",
    "[TABLE]", "[/TABLE]", "[FORMULA]", "[/FORMULA]",
)

DEFAULT_SETTINGS: dict[str, Any] = {
    "vocab_size": 8000,
    "model_type": "bpe",
    "character_coverage": 0.9995,
    "byte_fallback": True,
    "max_sentence_length": 4192,
    "train_max_chars": 20_000_000,
}


class TokenizerError(ValueError):
    """The tokenizer cannot be trained or loaded (the message says why)."""


def _settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    merged = dict(DEFAULT_SETTINGS)
    merged.update({k: v for k, v in (settings or {}).items() if v is not None})
    return merged


def wrap_line(line: str, max_bytes: int) -> list[str]:
    """Split a line into pieces of at most `max_bytes` UTF-8 bytes, at a space when there is one."""
    if len(line.encode("utf-8")) <= max_bytes:
        return [line]
    pieces: list[str] = []
    rest = line
    while len(rest.encode("utf-8")) > max_bytes:
        # Longest prefix that fits (characters are 1-4 bytes), then back off to the last space.
        cut = max_bytes
        while len(rest[:cut].encode("utf-8")) > max_bytes:
            cut -= 1
        space = rest.rfind(" ", 0, cut)
        if space > cut // 2:
            cut = space + 1
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if rest:
        pieces.append(rest)
    return pieces


def training_lines(texts: Iterable[str], max_sentence_length: int, max_chars: int | None = None) -> Iterator[str]:
    """The sentences sentencepiece trains on: non-blank lines, wrapped to fit, up to `max_chars` in all."""
    used = 0
    for text in texts:
        for line in text.splitlines():
            if not line.strip():
                continue
            for piece in wrap_line(line, max_sentence_length):
                if max_chars is not None and used >= max_chars:
                    return
                used += len(piece)
                yield piece


def train_sentencepiece(texts: Iterable[str], settings: Mapping[str, Any] | None = None) -> bytes:
    """Train a sentencepiece model on `texts` (in the given order) and return the serialized model proto.

    Settings: vocab_size, model_type (bpe | unigram), character_coverage, byte_fallback,
    max_sentence_length (bytes), train_max_chars (cap on the characters read).
    """
    import sentencepiece as spm

    s = _settings(settings)
    lines = list(training_lines(texts, int(s["max_sentence_length"]), int(s["train_max_chars"])))
    if not lines:
        raise TokenizerError("cannot train a tokenizer: the training sample has no text")
    writer = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(lines),
            model_writer=writer,
            vocab_size=int(s["vocab_size"]),
            model_type=str(s["model_type"]),
            character_coverage=float(s["character_coverage"]),
            byte_fallback=bool(s["byte_fallback"]),
            max_sentence_length=int(s["max_sentence_length"]),
            user_defined_symbols=list(SPECIAL_TOKENS),
            unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
            # Reproducibility: a single thread and every line, in order.
            num_threads=1, input_sentence_size=0, shuffle_input_sentence=False,
            # Lossless round trip: no normalisation, whitespace kept as is.
            normalization_rule_name="identity", remove_extra_whitespaces=False, add_dummy_prefix=False,
            split_digits=True, allow_whitespace_only_pieces=True,
            # A small corpus may not support the requested size; take what it supports.
            hard_vocab_limit=False,
            minloglevel=2,
        )
    except RuntimeError as exc:
        raise TokenizerError(f"sentencepiece training failed: {exc}") from exc
    return writer.getvalue()


def load_tokenizer(model_bytes: bytes):
    """A SentencePieceProcessor from a serialized model (ours or an existing one, e.g. Llama-2's)."""
    import sentencepiece as spm

    if not model_bytes:
        raise TokenizerError("tokenizer model is empty")
    sp = spm.SentencePieceProcessor()
    try:
        sp.LoadFromSerializedProto(model_bytes)
    except (RuntimeError, TypeError) as exc:
        raise TokenizerError(f"not a sentencepiece model: {exc}") from exc
    if sp.bos_id() < 0 or sp.eos_id() < 0:
        raise TokenizerError("tokenizer model defines no BOS or EOS id; packing needs both")
    return sp


def encode_document(sp, text: str) -> list[int]:
    """BOS + the text's token ids + EOS."""
    return [sp.bos_id(), *sp.encode(text), sp.eos_id()]


def tokenizer_info(model_bytes: bytes) -> dict[str, Any]:
    """What the manifest records about the tokenizer."""
    sp = load_tokenizer(model_bytes)
    special = {tok: sp.piece_to_id(tok) for tok in SPECIAL_TOKENS}
    # piece_to_id answers unk for unknown pieces: report only the ones the model really has.
    special = {tok: i for tok, i in special.items() if i != sp.unk_id()}
    return {
        "sha256": hashlib.sha256(model_bytes).hexdigest(),
        "vocab_size": sp.get_piece_size(),
        "bos_id": sp.bos_id(),
        "eos_id": sp.eos_id(),
        "unk_id": sp.unk_id(),
        "pad_id": sp.pad_id(),
        "special_tokens": special,
    }


# --- Beam -------------------------------------------------------------------------------------------

def sample_key(doc_id: str, seed: int) -> int:
    return stable_hash("tokenizer-sample", seed, doc_id)


class _SmallestKeysUpToChars(beam.CombineFn):
    """Keeps the documents with the smallest sample keys whose texts add up to `max_chars`.

    Trimming a part is safe: a document in the global answer is also kept in any part holding it, since
    fewer characters precede it there. So memory stays near `max_chars` whatever the input size.
    """

    def __init__(self, max_chars: int):
        self._max_chars = max_chars

    def _trim(self, items: list[tuple[int, str, str]]) -> list[tuple[int, str, str]]:
        items.sort()
        kept, used = [], 0
        for item in items:
            if used >= self._max_chars:
                break
            kept.append(item)
            used += len(item[2])
        return kept

    def create_accumulator(self):
        return [[], 0]  # items, their characters

    def add_input(self, acc, item):
        items, chars = acc
        items.append(item)
        chars += len(item[2])
        if chars > 2 * self._max_chars:  # never hold more than about twice the cap
            items = self._trim(items)
            chars = sum(len(i[2]) for i in items)
        return [items, chars]

    def merge_accumulators(self, accs):
        items = self._trim([item for acc in accs for item in acc[0]])
        return [items, sum(len(i[2]) for i in items)]

    def extract_output(self, acc):
        return self._trim(acc[0])


class TrainTokenizer(beam.PTransform):
    """PCollection[Document] -> singleton PCollection[bytes]: a model trained on a hash-chosen sample."""

    def __init__(self, settings: Mapping[str, Any], seed: int):
        super().__init__()
        self._settings = _settings(settings)
        self._seed = seed

    def expand(self, docs):
        settings, seed = self._settings, self._seed
        max_chars = int(settings["train_max_chars"])

        def keyed(doc: Document):
            # Ties broken by id; a single huge document is cut to the cap before it is held.
            return sample_key(doc.id, seed), doc.id, doc.text[:max_chars]

        def train(sample):
            Metrics.counter("gap", "tokenizer:sample_documents").inc(len(sample))
            return train_sentencepiece((text for _, _, text in sample), settings)

        return (docs
                | "SampleKey" >> beam.Map(keyed)
                | "Sample" >> beam.CombineGlobally(_SmallestKeysUpToChars(max_chars))
                | "Train" >> beam.Map(train))


class TokenizeDocuments(beam.PTransform):
    """PCollection[(split, Document)] -> PCollection[(subset, split, doc_id, ids)] (BOS + ids + EOS).

    `model` is a singleton PCollection of serialized model bytes (from TrainTokenizer or a file).
    Counts `tokenize:documents` and `tokenize:tokens_<subset>`.
    """

    def __init__(self, model):
        super().__init__()
        self._model = model

    def expand(self, split_docs):
        return split_docs | "Encode" >> beam.ParDo(_EncodeFn(), beam.pvalue.AsSingleton(self._model))


class _EncodeFn(beam.DoFn):
    def __init__(self):
        self._sp = None

    def process(self, element, model_bytes):
        split, doc = element
        if self._sp is None:  # one model per pipeline: load it once per worker
            self._sp = load_tokenizer(model_bytes)
        ids = encode_document(self._sp, doc.text)
        Metrics.counter("gap", "tokenize:documents").inc()
        Metrics.counter("gap", f"tokenize:tokens_{doc.subset}").inc(len(ids))
        yield doc.subset, split, doc.id, ids
