"""`gap tokenizer train|info`: train a sentencepiece model on a deterministic sample of documents, or describe one.

`gap tokenizer train --docs OUT/documents --out tokenizer.model` reads documents (Parquet files with the
document schema, JSONL with a "text" field and optionally "id", or plain .txt files, one document each),
orders them by a seeded hash of their id, takes them up to `tokenizer.train_max_chars` characters and
trains with the settings of the config's `tokenizer` section. The same inputs and config give the same
model bytes. Use the result with `gap build --config` (tokenizer.model: PATH).
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import sys
from typing import Iterator

from gap_pipeline.commands.args import positive_int


def register(sub) -> None:
    p = sub.add_parser("tokenizer", help="Train a sentencepiece tokenizer, or print what a model holds",
                       description=__doc__.split("\n\n")[0])
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    t = verbs.add_parser("train", help="train a model on a deterministic sample of documents")
    t.add_argument("--docs", nargs="+", required=True,
                   help="document files or folders: *.parquet (document schema), *.jsonl ({text, id?}), *.txt")
    t.add_argument("--out", required=True, help="where to write the model (e.g. out/tokenizer.model)")
    t.add_argument("--config", help="config file (its tokenizer section and seed); default: the shipped one")
    t.add_argument("--vocab-size", type=positive_int, help="override tokenizer.vocab_size")
    t.add_argument("--model-type", choices=("bpe", "unigram"), help="override tokenizer.model_type")
    t.add_argument("--max-chars", type=positive_int, help="override tokenizer.train_max_chars")
    t.set_defaults(func=run_train)
    i = verbs.add_parser("info", help="print a model's sha256, vocabulary size and special-token ids as JSON")
    i.add_argument("model", help="a sentencepiece .model file (ours or e.g. Llama-2's) or a Hugging Face tokenizer.json")
    i.set_defaults(func=run_info)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _expand(paths: list[str]) -> list[str]:
    files: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found = [f for ext in ("parquet", "jsonl", "txt") for f in glob.glob(os.path.join(path, f"*.{ext}"))]
            if not found:
                raise SystemExit(f"gap tokenizer train: no .parquet, .jsonl or .txt files in {path}")
            files += found
        elif os.path.isfile(path):
            files.append(path)
        else:
            raise SystemExit(f"gap tokenizer train: no such file or folder: {path}")
    return sorted(set(files))


def iter_documents(files: list[str]) -> Iterator[tuple[str, str]]:
    """(id, text) of every document; an id is made from the text when the input has none."""
    import pyarrow.parquet as pq

    for path in files:
        if path.endswith(".parquet"):
            table = pq.read_table(path)
            if "text" not in table.column_names:
                raise SystemExit(f"gap tokenizer train: {path} has no 'text' column")
            ids = table.column("id").to_pylist() if "id" in table.column_names else [None] * table.num_rows
            for doc_id, text in zip(ids, table.column("text").to_pylist()):
                yield doc_id or hashlib.sha256(text.encode()).hexdigest(), text
        elif path.endswith(".jsonl"):
            from schemas.jsonl import jsonl_stream_lines

            with open(path, encoding="utf-8") as f:
                for n, line in jsonl_stream_lines(f):
                    try:
                        row = json.loads(line)
                        text = row["text"]
                    except (ValueError, KeyError, TypeError) as exc:
                        raise SystemExit(f"gap tokenizer train: {path}:{n}: not a JSON object with 'text' ({exc})")
                    yield str(row.get("id") or hashlib.sha256(text.encode()).hexdigest()), text
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            yield hashlib.sha256(text.encode()).hexdigest(), text


def sample_texts(docs: Iterator[tuple[str, str]], seed: int, max_chars: int) -> list[str]:
    """The texts with the smallest seeded-hash ids, up to max_chars in all (each cut to max_chars)."""
    from transforms.tokenizer import sample_key

    keyed = sorted((sample_key(doc_id, seed), doc_id, text[:max_chars]) for doc_id, text in docs)
    sample, used = [], 0
    for _, _, text in keyed:
        if used >= max_chars:
            break
        sample.append(text)
        used += len(text)
    return sample


def run_train(args) -> int:
    from gap_pipeline.config import ConfigError, load_config
    from transforms.tokenizer import TokenizerError, tokenizer_info, train_sentencepiece

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        raise SystemExit(f"gap tokenizer train: {exc}")
    flags = {"vocab_size": args.vocab_size, "model_type": args.model_type, "train_max_chars": args.max_chars}
    settings = cfg.tokenizer.to_dict()  # sentencepiece's options by name; the flags win
    settings.update({k: v for k, v in flags.items() if v})
    texts = sample_texts(iter_documents(_expand(args.docs)), cfg.seed, int(settings["train_max_chars"]))
    try:
        model = train_sentencepiece(texts, settings)
    except TokenizerError as exc:
        raise SystemExit(f"gap tokenizer train: {exc}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "wb") as f:
        f.write(model)
    info = tokenizer_info(model)
    print(json.dumps({"model": args.out, "documents": len(texts), **info}, indent=2))
    return 0


def run_info(args) -> int:
    from transforms.tokenizer import TokenizerError, tokenizer_info

    try:
        with open(args.model, "rb") as f:
            info = tokenizer_info(f.read())
    except (OSError, TokenizerError) as exc:
        print(f"gap tokenizer info: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(info, indent=2))
    return 0
