"""Hugging Face tokenizer.json files made in the tests with the `tokenizers` library (no hub, no network)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

BOS, EOS = "<|begin_of_text|>", "<|end_of_text|>"


def byte_level_bpe(texts, vocab_size: int = 800, truncate: int | None = None) -> str:
    """A Llama-3-shaped tokenizer: byte-level BPE, <|begin_of_text|> added by a TemplateProcessing inside
    a Sequence post-processor, <|end_of_text|> as a special token. Returns the tokenizer.json text."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[BOS, EOS, "<|eot_id|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(list(texts), trainer)
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B",
                                      special_tokens=[(BOS, tok.token_to_id(BOS))]),
    ])
    if truncate:
        tok.enable_truncation(truncate)
    return tok.to_str()


def word_level_above_uint16(texts, first_id: int = 70_000) -> str:
    """A WordLevel tokenizer whose every real word has an id above 65,535 (ids below are fillers), so
    shards must hold uint32. BOS/EOS are <s> and </s> (found by name)."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = sorted({w for t in texts for w in t.split()})
    vocab = {f"<filler{i}>": i for i in range(first_id)}
    vocab.update({"<unk>": first_id, "<s>": first_id + 1, "</s>": first_id + 2})
    vocab.update({w: first_id + 3 + i for i, w in enumerate(words)})
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.add_special_tokens(["<s>", "</s>"])
    return tok.to_str()


def packaged_tokenizer_json() -> Path | None:
    """A real byte-level BPE tokenizer.json shipped in a PyPI package: anthropic 0.38.0 (MIT licence) ships
    the 65,000-token tokenizer of its early models as anthropic/tokenizer.json (dev extra)."""
    spec = importlib.util.find_spec("anthropic")
    if spec is None or not spec.origin:
        return None
    path = Path(spec.origin).parent / "tokenizer.json"
    return path if path.is_file() else None
