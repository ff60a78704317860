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
    """(id, text) of every document; an id is made from the text when the input has none. A file that cannot
    be read (not Parquet, not UTF-8, a "text" that is not a string) ends the run with one line naming it."""
    for path in files:
        try:
            yield from _file_documents(path)
        except UnicodeDecodeError as exc:
            raise SystemExit(f"gap tokenizer train: {path}: not valid UTF-8 text ({exc.reason})")
        except OSError as exc:
            raise SystemExit(f"gap tokenizer train: {path}: cannot read: {exc.strerror or exc}")


def _file_documents(path: str) -> Iterator[tuple[str, str]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    def checked(text, where: str) -> str:
        if not isinstance(text, str):
            raise SystemExit(f"gap tokenizer train: {where}: 'text' is not a string")
        return text

    if path.endswith(".parquet"):
        try:
            table = pq.read_table(path)
        except pa.ArrowException as exc:
            raise SystemExit(f"gap tokenizer train: {path}: not a readable Parquet file ({exc})")
        if "text" not in table.column_names:
            raise SystemExit(f"gap tokenizer train: {path} has no 'text' column")
        ids = table.column("id").to_pylist() if "id" in table.column_names else [None] * table.num_rows
        for row, (doc_id, text) in enumerate(zip(ids, table.column("text").to_pylist()), 1):
            text = checked(text, f"{path} row {row}")
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
                text = checked(text, f"{path}:{n}")
                yield str(row.get("id") or hashlib.sha256(text.encode()).hexdigest()), text
    else:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        yield hashlib.sha256(text.encode()).hexdigest(), text


def sample_texts(docs: Iterator[tuple[str, str]], seed: int, max_chars: int) -> list[str]:
    """The texts with the smallest seeded-hash ids, up to max_chars in all (each cut to max_chars): the
    build's own sample rule, holding about twice max_chars characters whatever the input size."""
    from transforms.tokenizer import sample_key, sample_smallest_keys

    keyed = ((sample_key(doc_id, seed), doc_id, text[:max_chars]) for doc_id, text in docs)
    return [text for _, _, text in sample_smallest_keys(keyed, max_chars)]


def run_train(args) -> int:
    from gap_pipeline.config import ConfigError, load_config
    from transforms.tokenizer import TokenizerError, tokenizer_info, train_sentencepiece

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        raise SystemExit(f"gap tokenizer train: {exc}")
    if os.path.isdir(args.out):
        raise SystemExit(f"gap tokenizer train: --out {args.out} is a folder; give the model file to write")
    flags = {"vocab_size": args.vocab_size, "model_type": args.model_type, "train_max_chars": args.max_chars}
    settings = cfg.tokenizer.to_dict()  # sentencepiece's options by name; the flags win
    settings.update({k: v for k, v in flags.items() if v})
    texts = sample_texts(iter_documents(_expand(args.docs)), cfg.seed, int(settings["train_max_chars"]))
    try:
        model = train_sentencepiece(texts, settings)
    except TokenizerError as exc:
        raise SystemExit(f"gap tokenizer train: {exc}")
    try:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "wb") as f:
            f.write(model)
    except FileExistsError as exc:  # a file where a folder of the path must be
        raise SystemExit(f"gap tokenizer train: cannot write --out {args.out}: {exc.filename} is a file, not a folder")
    except OSError as exc:
        raise SystemExit(f"gap tokenizer train: cannot write --out {args.out}: {exc.strerror or exc}")
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
