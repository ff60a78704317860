"""Tokenizers: train a sentencepiece model on a deterministic sample of the corpus, or use an existing one:
a sentencepiece `.model` (Llama-2) or a Hugging Face `tokenizer.json` (Llama-3.x, Qwen, Mistral: byte-level
BPE, vocabularies of 128k-152k), used as is.

Both kinds sit behind one interface, `load_encoder(blob) -> encoder` with `encode_batch(texts)` (ids
only), `encode_documents(texts)` (BOS + ids + EOS), `bos_id`, `eos_id`, `vocab_size` and `info()` (what
the manifest records). A `tokenizer.json` is loaded with the `tokenizers` library and encodes batches
with its Rust batch encoder; its BOS/EOS come from config (`tokenizer.bos_token`/`eos_token`), else from
its post-processor template (the BOS the model adds), else from well-known special-token names. Special
tokens written literally in a document are encoded as text, never as control tokens (as sentencepiece
does), and a truncation or padding setting in the file is ignored: documents are never cropped.

Training is made reproducible: one thread, no input sampling or shuffling, documents in hash order,
and lines longer than `max_sentence_length` (bytes) wrapped first, because sentencepiece silently
skips such lines instead of failing. Normalisation is the identity and extra whitespace is kept, so
`decode(encode(text)) == text` (byte fallback covers characters outside the vocabulary).
"""
from __future__ import annotations

import hashlib
import io
import json
from typing import Any, Iterable, Iterator, Mapping

import apache_beam as beam
from apache_beam.metrics import Metrics

from schemas.document import Document
from transforms.settings import TokenizerSettings
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


SENTENCEPIECE = "sentencepiece"
HUGGINGFACE = "huggingface"
# The name a corpus folder gives its tokenizer file, by kind.
TOKENIZER_FILES = {SENTENCEPIECE: "tokenizer.model", HUGGINGFACE: "tokenizer.json"}
# Special-token names tried, in order, when neither config nor the post-processor names BOS/EOS.
BOS_NAMES = ("<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>", "[BOS]", "<BOS>")
EOS_NAMES = ("<|end_of_text|>", "</s>", "<eos>", "<|endoftext|>", "[EOS]", "<EOS>")


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


def tokenizer_info(model_bytes: bytes, bos_token: str | None = None, eos_token: str | None = None) -> dict[str, Any]:
    """What the manifest records about the tokenizer (either kind)."""
    if tokenizer_kind(model_bytes) == HUGGINGFACE:
        return HuggingFaceEncoder(model_bytes, bos_token, eos_token).info()
    if bos_token or eos_token:
        return SentencePieceEncoder(model_bytes, bos_token, eos_token).info()
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


# --- one interface for both kinds ----------------------------------------------------------------------

def tokenizer_kind(blob: bytes) -> str:
    """"huggingface" for a tokenizer.json (a JSON object), else "sentencepiece" (a serialized proto, which
    never starts with '{': that byte would be a protobuf group tag, which sentencepiece does not use)."""
    return HUGGINGFACE if blob[:64].lstrip()[:1] == b"{" else SENTENCEPIECE


def tokenizer_filename(blob: bytes) -> str:
    """tokenizer.model or tokenizer.json: the name the tokenizer has in a corpus folder."""
    return TOKENIZER_FILES[tokenizer_kind(blob)]


class _Encoder:
    kind: str
    bos_id: int
    eos_id: int
    vocab_size: int

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        raise NotImplementedError

    def encode_documents(self, texts: list[str]) -> list[list[int]]:
        """BOS + the text's ids + EOS, for each text."""
        return [[self.bos_id, *ids, self.eos_id] for ids in self.encode_batch(texts)]


class SentencePieceEncoder(_Encoder):
    kind = SENTENCEPIECE

    def __init__(self, blob: bytes, bos_token: str | None = None, eos_token: str | None = None):
        self._blob = blob
        self.sp = load_tokenizer(blob)
        self.vocab_size = self.sp.get_piece_size()
        self._names = {k: v for k, v in (("bos_token", bos_token), ("eos_token", eos_token)) if v}
        self.bos_id = self._piece(bos_token, "bos") if bos_token else self.sp.bos_id()
        self.eos_id = self._piece(eos_token, "eos") if eos_token else self.sp.eos_id()

    def _piece(self, piece: str, role: str) -> int:
        i = self.sp.piece_to_id(piece)
        if self.sp.id_to_piece(i) != piece:
            raise TokenizerError(f"tokenizer.{role}_token {piece!r} is not a piece of this sentencepiece model")
        return i

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return self.sp.encode(list(texts))

    def info(self) -> dict[str, Any]:
        info = tokenizer_info(self._blob)
        info.update(bos_id=self.bos_id, eos_id=self.eos_id, **self._names)  # names only when config gave them
        return info


def _template_bos(post_processor: Any) -> str | None:
    """The special token a TemplateProcessing post-processor puts first (the BOS the model expects)."""
    if not isinstance(post_processor, dict):
        return None
    if post_processor.get("type") == "Sequence":
        for proc in post_processor.get("processors") or []:
            found = _template_bos(proc)
            if found:
                return found
        return None
    if post_processor.get("type") == "TemplateProcessing":
        single = post_processor.get("single") or []
        if single and isinstance(single[0], dict) and "SpecialToken" in single[0]:
            return single[0]["SpecialToken"].get("id")
    return None


class HuggingFaceEncoder(_Encoder):
    """A Hugging Face `tokenizers` model (tokenizer.json) used as is."""
    kind = HUGGINGFACE

    def __init__(self, blob: bytes, bos_token: str | None = None, eos_token: str | None = None):
        from tokenizers import Tokenizer

        self._blob = blob
        try:
            spec = json.loads(blob.decode("utf-8"))
            self.tok = Tokenizer.from_str(blob.decode("utf-8"))
        except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exception for a bad file
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise TokenizerError(f"not a Hugging Face tokenizer.json: {first}") from exc
        # Documents are never cropped or padded, and "<|endoftext|>" written in a text stays text.
        self.tok.no_truncation()
        self.tok.no_padding()
        self.tok.encode_special_tokens = True
        vocab = self.tok.get_vocab(with_added_tokens=True)
        if not vocab:
            raise TokenizerError("tokenizer.json has an empty vocabulary")
        self.vocab_size = max(vocab.values()) + 1
        self.special_tokens = {t["content"]: int(t["id"]) for t in spec.get("added_tokens") or [] if t.get("special")}
        self.bos_token = self._resolve(bos_token, "bos", [_template_bos(spec.get("post_processor"))] + list(BOS_NAMES), vocab)
        self.eos_token = self._resolve(eos_token, "eos", list(EOS_NAMES), vocab)
        self.bos_id, self.eos_id = vocab[self.bos_token], vocab[self.eos_token]

    def _resolve(self, given: str | None, role: str, candidates: list[str | None], vocab: dict[str, int]) -> str:
        if given:
            if given not in vocab:
                raise TokenizerError(f"tokenizer.{role}_token {given!r} is not a token of this tokenizer.json")
            return given
        for name in candidates:
            if name and name in vocab:
                return name
        known = ", ".join(sorted(self.special_tokens, key=self.special_tokens.get)[:8]) or "none"
        raise TokenizerError(f"tokenizer.json has no {role.upper()} token with a known name (its special tokens: "
                             f"{known}); name one with tokenizer.{role}_token")

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        # encode_batch_fast: the same ids without computing offsets (a third less time on the sample's text).
        return [e.ids for e in self.tok.encode_batch_fast(list(texts), add_special_tokens=False)]

    def info(self) -> dict[str, Any]:
        return {
            "kind": HUGGINGFACE,
            "sha256": hashlib.sha256(self._blob).hexdigest(),
            "vocab_size": self.vocab_size,
            "bos_id": self.bos_id,
            "eos_id": self.eos_id,
            "bos_token": self.bos_token,
            "eos_token": self.eos_token,
            "special_tokens": dict(sorted(self.special_tokens.items(), key=lambda kv: kv[1])),
        }


def load_encoder(blob: bytes, kind: str | None = None, *, bos_token: str | None = None,
                 eos_token: str | None = None) -> _Encoder:
    """An encoder for a sentencepiece model or a tokenizer.json (`kind` None: told from the bytes)."""
    if not blob:
        raise TokenizerError("tokenizer file is empty")
    kind = kind or tokenizer_kind(blob)
    if kind == HUGGINGFACE:
        return HuggingFaceEncoder(blob, bos_token, eos_token)
    if kind == SENTENCEPIECE:
        return SentencePieceEncoder(blob, bos_token, eos_token)
    raise TokenizerError(f"unknown tokenizer kind {kind!r} (sentencepiece or huggingface)")


def vocab_size_of(blob: bytes) -> int:
    """Vocabulary size (largest id + 1) without resolving BOS/EOS."""
    if tokenizer_kind(blob) == HUGGINGFACE:
        from tokenizers import Tokenizer
        return max(Tokenizer.from_str(blob.decode("utf-8")).get_vocab(with_added_tokens=True).values()) + 1
    return load_tokenizer(blob).get_piece_size()


# --- Beam -------------------------------------------------------------------------------------------

def sample_key(doc_id: str, seed: int) -> int:
    return stable_hash("tokenizer-sample", seed, doc_id)


def smallest_keys_up_to_chars(items: list[tuple[int, str, str]], max_chars: int) -> list[tuple[int, str, str]]:
    """Of (key, id, text) items, those with the smallest keys whose texts add up to `max_chars` (the one
    that crosses it included), in key order.

    Trimming a part is safe: an item in the answer over all items is also kept in any part holding it,
    since fewer characters precede it there."""
    items = sorted(items)
    kept, used = [], 0
    for item in items:
        if used >= max_chars:
            break
        kept.append(item)
        used += len(item[2])
    return kept


def sample_smallest_keys(items: Iterable[tuple[int, str, str]], max_chars: int) -> list[tuple[int, str, str]]:
    """`smallest_keys_up_to_chars` over a stream, the build's combiner run in one process: it holds about
    twice `max_chars` characters at most."""
    sample = _SmallestKeysUpToChars(max_chars)
    acc = sample.create_accumulator()
    for item in items:
        acc = sample.add_input(acc, item)
    return sample.extract_output(acc)


class _SmallestKeysUpToChars(beam.CombineFn):
    """`smallest_keys_up_to_chars` as a combiner: memory stays near `max_chars` whatever the input size."""

    def __init__(self, max_chars: int):
        self._max_chars = max_chars

    def create_accumulator(self):
        return [[], 0]  # items, their characters

    def add_input(self, acc, item):
        items, chars = acc
        items.append(item)
        chars += len(item[2])
        if chars > 2 * self._max_chars:  # never hold more than about twice the cap
            items = smallest_keys_up_to_chars(items, self._max_chars)
            chars = sum(len(i[2]) for i in items)
        return [items, chars]

    def merge_accumulators(self, accs):
        items = smallest_keys_up_to_chars([item for acc in accs for item in acc[0]], self._max_chars)
        return [items, sum(len(i[2]) for i in items)]

    def extract_output(self, acc):
        return smallest_keys_up_to_chars(acc[0], self._max_chars)


class TrainTokenizer(beam.PTransform):
    """PCollection[Document] -> singleton PCollection[bytes]: a model trained on a hash-chosen sample."""

    def __init__(self, settings: TokenizerSettings, seed: int):
        super().__init__()
        self._settings = _settings(settings.to_dict())  # sentencepiece's options by name
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
