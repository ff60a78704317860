"""A sentencepiece model as a Hugging Face `tokenizer.json`, so `AutoTokenizer` loads an export.

transformers converts a bare `tokenizer.model` through sentencepiece's generated protobuf module,
which needs protobuf >= 7, while Apache Beam pins protobuf < 7; that conversion fails in this
environment (and in any environment that shares Beam's pins). So the export carries a ready
`tokenizer.json` built with the `tokenizers` library, and transformers never has to convert.

The model file is read with a small protobuf wire-format reader (the few fields below) instead of
the generated module, for the same reason. Supported: BPE models (sentencepiece's and Llama-2's kind), with or without
byte fallback, a dummy prefix, extra-whitespace removal and a precompiled normalisation map (so
our own tokenizers and Llama-2's both convert). Token ids are checked against sentencepiece on
real text in tests/gap_pipeline/training/test_hf_tokenizer.py. Unigram models are refused (see build_tokenizer).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

# sentencepiece_model.proto: ModelProto.{pieces=1, trainer_spec=2, normalizer_spec=3};
# SentencePiece.{piece=1, score=2, type=3}; TrainerSpec.{model_type=3, byte_fallback=35,
# treat_whitespace_as_suffix=24}; NormalizerSpec.{name=1, precompiled_charsmap=2,
# add_dummy_prefix=3, remove_extra_whitespaces=4, escape_whitespaces=5}.
NORMAL, UNKNOWN, CONTROL, USER_DEFINED, UNUSED, BYTE = 1, 2, 3, 4, 5, 6
UNIGRAM, BPE = 1, 2
META = "\u2581"   # sentencepiece's visible space


class TokenizerConversionError(ValueError):
    """The sentencepiece model cannot be expressed as a tokenizer.json (the message says why)."""


@dataclass
class Piece:
    text: str
    score: float = 0.0
    type: int = NORMAL


@dataclass
class SentencePieceModel:
    pieces: list[Piece] = field(default_factory=list)
    model_type: int = UNIGRAM
    byte_fallback: bool = False
    whitespace_as_suffix: bool = False
    normalizer_name: str = ""
    precompiled_charsmap: bytes = b""
    add_dummy_prefix: bool = True           # proto2 defaults
    remove_extra_whitespaces: bool = True
    escape_whitespaces: bool = True


def _fields(buf: bytes):
    """Yield (field number, wire type, value) of one protobuf message; value is int or bytes."""
    pos, end = 0, len(buf)

    def varint() -> int:
        nonlocal pos
        shift = result = 0
        while True:
            if pos >= end:
                raise TokenizerConversionError("truncated sentencepiece model (varint)")
            byte = buf[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    while pos < end:
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            value: int | bytes = varint()
        elif wire == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wire == 2:
            length = varint()
            value, pos = buf[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise TokenizerConversionError(f"not a sentencepiece model (wire type {wire})")
        if pos > end:
            raise TokenizerConversionError("truncated sentencepiece model")
        yield number, wire, value


def parse_model(model_bytes: bytes) -> SentencePieceModel:
    model = SentencePieceModel()
    for number, wire, value in _fields(model_bytes):
        if number == 1 and wire == 2:
            piece = Piece("")
            for n, w, v in _fields(value):
                if n == 1 and w == 2:
                    piece.text = v.decode("utf-8")
                elif n == 2 and w == 5:
                    piece.score = struct.unpack("<f", v)[0]
                elif n == 3 and w == 0:
                    piece.type = v
            model.pieces.append(piece)
        elif number == 2 and wire == 2:
            for n, w, v in _fields(value):
                if n == 3 and w == 0:
                    model.model_type = v
                elif n == 35 and w == 0:
                    model.byte_fallback = bool(v)
                elif n == 24 and w == 0:
                    model.whitespace_as_suffix = bool(v)
        elif number == 3 and wire == 2:
            for n, w, v in _fields(value):
                if n == 1 and w == 2:
                    model.normalizer_name = v.decode("utf-8")
                elif n == 2 and w == 2:
                    model.precompiled_charsmap = bytes(v)
                elif n == 3 and w == 0:
                    model.add_dummy_prefix = bool(v)
                elif n == 4 and w == 0:
                    model.remove_extra_whitespaces = bool(v)
                elif n == 5 and w == 0:
                    model.escape_whitespaces = bool(v)
    if not model.pieces:
        raise TokenizerConversionError("not a sentencepiece model: it has no pieces")
    return model


def bpe_merges(model: SentencePieceModel) -> list[tuple[str, str]]:
    """Merges in priority order. sentencepiece's BPE repeatedly joins the adjacent pair whose
    concatenation is the best-scored piece in the vocabulary, so every split of a normal piece into
    two vocabulary pieces is a merge ranked by that piece's score (ties: vocabulary order)."""
    ids = {p.text: i for i, p in enumerate(model.pieces) if p.type in (NORMAL, USER_DEFINED, BYTE, UNKNOWN)}
    ranked: list[tuple[float, int, int, tuple[str, str]]] = []
    for i, p in enumerate(model.pieces):
        if p.type != NORMAL or len(p.text) < 2:
            continue
        for cut in range(1, len(p.text)):
            left, right = p.text[:cut], p.text[cut:]
            if left in ids and right in ids:
                ranked.append((-p.score, i, ids[left], (left, right)))
    ranked.sort()
    return [merge for *_, merge in ranked]


def build_tokenizer(model_bytes: bytes, *, bos_id: int | None, add_bos: bool = True):
    """A `tokenizers.Tokenizer` that gives sentencepiece's ids (plus BOS first when add_bos)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    model = parse_model(model_bytes)
    if model.model_type != BPE:
        # Unigram converts too, but its Viterbi ties break differently from sentencepiece's on real
        # text (measured), and a tokenizer that is only nearly right mis-tokenizes silently.
        raise TokenizerConversionError(f"only BPE sentencepiece models convert exactly (this one is "
                                       f"{ {UNIGRAM: 'unigram', 3: 'word', 4: 'char'}.get(model.model_type, model.model_type)})")
    if model.whitespace_as_suffix or not model.escape_whitespaces:
        raise TokenizerConversionError("sentencepiece models with whitespace as suffix or without whitespace "
                                       "escaping are not supported")
    unk = next((i for i, p in enumerate(model.pieces) if p.type == UNKNOWN), None)
    unk_piece = model.pieces[unk].text if unk is not None else None
    vocab = {p.text: i for i, p in enumerate(model.pieces)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=bpe_merges(model), unk_token=unk_piece, fuse_unk=True,
                               byte_fallback=model.byte_fallback))

    user_defined = any(p.type == USER_DEFINED for p in model.pieces)
    steps = []
    if model.precompiled_charsmap:
        steps.append(normalizers.Precompiled(model.precompiled_charsmap))
    if model.remove_extra_whitespaces:
        # sentencepiece drops leading and trailing spaces and squeezes runs of them into one.
        steps += [normalizers.Strip(left=True, right=True), normalizers.Replace(Regex(" {2,}"), " ")]
    if model.add_dummy_prefix and user_defined:
        # The text is normalised piece by piece between user-defined symbols, so the dummy prefix
        # must come from the pre-tokenizer, which adds it to the first piece only. That one looks
        # at original offsets, so a stripped leading space would lose the prefix: refuse that mix.
        if model.remove_extra_whitespaces:
            raise TokenizerConversionError("a sentencepiece model with a dummy prefix, whitespace removal and "
                                           "user-defined symbols has no exact tokenizer.json equivalent")
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, split=False, prepend_scheme="first")
    else:
        if model.add_dummy_prefix:
            steps.append(normalizers.Prepend(META))
        steps.append(normalizers.Replace(" ", META))
    if steps:
        tok.normalizer = normalizers.Sequence(steps)
    steps = [decoders.Replace(META, " "), decoders.ByteFallback(), decoders.Fuse()]
    if model.add_dummy_prefix:
        steps.append(decoders.Strip(content=" ", left=1, right=0))
    tok.decoder = decoders.Sequence(steps)

    # Control pieces (<s>, </s>) and <unk> are special; user-defined symbols ([BIB_REF], ...) are
    # matched in the raw text as single tokens, as sentencepiece does. sentencepiece reads a literal
    # "<s>" in the text as characters: `encode_special_tokens` (transformers' split_special_tokens)
    # does the same.
    tok.add_special_tokens([AddedToken(p.text, special=True, normalized=False)
                            for p in model.pieces if p.type in (CONTROL, UNKNOWN)])
    tok.add_tokens([AddedToken(p.text, special=False, normalized=False)
                    for p in model.pieces if p.type == USER_DEFINED])
    if add_bos and bos_id is not None:
        bos = model.pieces[bos_id].text
        tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                           special_tokens=[(bos, bos_id)])
    tok.encode_special_tokens = True
    return tok
