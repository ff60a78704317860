"""Tokenize + pack + write throughput against bare sentencepiece encoding, and shard random reads.

1. The same texts are encoded (a) bare: `sp.encode(text)` per document, and (b) the full shard path the
   tokens phase runs, with its own functions, for one documents part: `PackPart` (split, BOS + ids + EOS in
   batches of 256 documents, streaming packing into seq_len + 1 rows, the part's row file), `plan_mixture`,
   `route_part` (the seeded shuffle of the numbered rows, rows rewritten in shard order) and `write_shard`
   (Arrow IPC serialisation, sha256, the shard file). The two are timed
   alternately in the same process, `repeats` times each; medians are reported and the ratio is
   bare_time / full_time (the share of bare encoding speed the full path keeps; target >= 80%).
2. Encoders side by side (`make bench` section "Encoders"): the same texts through sentencepiece (per
   document, and its batch call) and a Hugging Face byte-level BPE tokenizer.json of the same vocabulary
   size trained on the same sample with `tokenizers` (its Rust `encode_batch`, on all cores and with
   TOKENIZERS_PARALLELISM=false; `encode_batch_fast`, which skips offsets; and gap's encoder interface as the
   build's DoFn calls it: batches of 256 documents, BOS + ids + EOS). Medians of alternating repeats; tokens/s counts each tokenizer's own tokens.
3. Random reads: a shard file is memory-mapped (pyarrow, zero copy) and random rows are read as numpy
   views of the input_ids buffer; rows/s over random indices, median of repeats.
Machine: 2 shared, noisy cores; single-threaded throughout.
"""
from __future__ import annotations

import bisect
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from schemas.document import Document  # noqa: E402
from transforms.mix import plan_mixture  # noqa: E402
from transforms.pack import GROUPS, PackPart  # noqa: E402
from transforms.rowfiles import row_file  # noqa: E402
from transforms.shards import route_part, write_shard  # noqa: E402
from transforms.tokenizer import load_encoder, load_tokenizer, train_sentencepiece  # noqa: E402

SEQ_LEN = 512
SEED = 1234
ONE_SHARD = 1 << 40  # shards.target_bytes: the whole part in one shard


def _texts(n_docs: int, seed: int = 0) -> list[tuple[str, str]]:
    """Synthetic medical-looking prose: a Zipf-like vocabulary of ~4,000 word forms, numbers, markers."""
    rng = random.Random(seed)
    stems = ["cardi", "nephr", "hepat", "pulmon", "neur", "onc", "haemat", "gastr", "derm", "immun", "endocrin",
             "paediatr", "obstetr", "psychiatr", "rheumat", "infect", "vascul", "thromb", "gluc", "insul"]
    suffixes = ["al", "ology", "itis", "opathy", "ic", "osis", "ectomy", "ogram", "ologist", "ary", "ine", "ase"]
    common = ("the of and in to a with for was were is on by as at from that patients study treatment "
              "risk dose trial clinical outcome mortality randomised cohort therapy baseline mg per day").split()
    vocab = common + [s + x for s in stems for x in suffixes] + [f"{w}{i}" for w in ("IL", "CD", "HbA") for i in range(60)]
    weights = [1.0 / (i + 1) for i in range(len(vocab))]
    docs = []
    for i in range(n_docs):
        words = rng.choices(vocab, weights, k=rng.randint(200, 3000))
        for j in range(0, len(words), 17):
            words[j] = words[j].capitalize()
        text = " ".join(words).replace(" The ", ". The ")
        if i % 4 == 0:
            text += f" [BIB_REF] Smith et al., {1990 + i % 30} [/BIB_REF] p = 0.0{i % 9} (95% CI 1.{i % 7}–2.3)"
        docs.append((f"doc{i:06d}", text))
    return docs


def _full_path(model: bytes, docs, folder: str, vocab_size: int) -> tuple[int, str]:
    """The tokens phase's per-part work on `docs` (one part, one packing group): returns (rows, shard path)."""
    rows_dir, routed_dir, out = (os.path.join(folder, name) for name in ("rows", "routed", "out"))
    pack = PackPart(model, {"bos_token": None, "eos_token": None}, {"papers": 0.0}, SEED, False, SEQ_LEN, rows_dir)
    pack.start(0)
    for row, (doc_id, text) in enumerate(docs):
        for _ in pack(Document(id=doc_id, source="pmc", subset="papers", title="", text=text, url="", license="",
                               lang="en", lang_score=1.0), 0, row):
            pass
    groups = [o.value for o in pack.flush() if getattr(o, "tag", None) == GROUPS]
    plan = plan_mixture(groups, "natural", None, None, SEQ_LEN)
    ranges = route_part(0, row_file(rows_dir, 0), row_file(routed_dir, 0), plan, SEED, "subset", ONE_SHARD)
    (split, index), piece = ranges[0]
    info = write_shard(split, index, [piece], routed_dir, os.path.join(out, split), plan, ONE_SHARD, SEQ_LEN,
                       vocab_size, False)
    return info["rows"], os.path.join(out, info["path"])


def _bare(sp, docs) -> int:
    return sum(len(sp.encode(text)) for _, text in docs)


def _random_reads(path: str, n_reads: int, repeats: int) -> tuple[float, int]:
    with pa.memory_map(path, "r") as source:
        table = pa.ipc.open_stream(source).read_all()
    column = table.column("input_ids")
    chunks = [c.values.to_numpy(zero_copy_only=True).reshape(-1, SEQ_LEN + 1) for c in column.chunks]
    offsets = [int(x) for x in np.cumsum([0] + [len(c) for c in chunks])]
    rng = np.random.default_rng(0)
    rates = []
    for _ in range(repeats):
        picks = rng.integers(0, table.num_rows, size=n_reads).tolist()
        started = time.perf_counter()
        total = 0
        for row in picks:
            k = bisect.bisect_right(offsets, row) - 1
            total += int(chunks[k][row - offsets[k]][0])  # touch the row: a view, no copy
        rates.append(n_reads / (time.perf_counter() - started))
    return statistics.median(rates), table.num_rows


def _hf_tokenizer_json(texts: list[str], vocab_size: int) -> bytes:
    """A Llama-3-shaped byte-level BPE tokenizer.json trained with `tokenizers` on `texts`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|begin_of_text|>", "<|end_of_text|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    return tok.to_str().encode()


def _sample_texts() -> list[str]:
    """The kept documents of the embedded sample corpus (real guideline pages, PMC papers, abstracts,
    replay text), built once with the default config into a temporary folder."""
    import glob

    import pyarrow.parquet as pq

    from gap_pipeline.build import run_build, sample_config_path
    from gap_pipeline.config import load_config

    with tempfile.TemporaryDirectory() as tmp:
        run_build(load_config(sample_config_path()), tmp, workers=1)
        return [t for f in sorted(glob.glob(os.path.join(tmp, "documents", "*.parquet")))
                for t in pq.read_table(f, columns=["text"]).column("text").to_pylist()]


def _encoders(texts: list[str], sp_model: bytes, repeats: int, train_docs: int = 200) -> tuple[list[str], int]:
    sp = load_tokenizer(sp_model)
    hf_blob = _hf_tokenizer_json(texts[:train_docs], sp.get_piece_size())
    hf = load_encoder(hf_blob)
    raw = hf.tok

    def sp_each():
        return sum(len(sp.encode(t)) for t in texts)

    def sp_batch():
        return sum(len(ids) for ids in sp.encode(texts))

    def hf_batch():
        return sum(len(e.ids) for e in raw.encode_batch(texts, add_special_tokens=False))

    def hf_batch_fast():
        return sum(len(e.ids) for e in raw.encode_batch_fast(texts, add_special_tokens=False))

    def hf_batch_one_thread():
        os.environ["TOKENIZERS_PARALLELISM"] = "false"
        try:
            return hf_batch()
        finally:
            del os.environ["TOKENIZERS_PARALLELISM"]

    def hf_gap():
        return sum(len(ids) for i in range(0, len(texts), 256) for ids in hf.encode_documents(texts[i:i + 256]))

    cases = [("sentencepiece, `sp.encode(text)` per document", sp_each),
             ("sentencepiece, `sp.encode(texts)` (batch call)", sp_batch),
             ("tokenizers, `encode_batch(texts)`, all cores", hf_batch),
             ("tokenizers, `encode_batch(texts)`, TOKENIZERS_PARALLELISM=false", hf_batch_one_thread),
             ("tokenizers, `encode_batch_fast(texts)` (no offsets), all cores", hf_batch_fast),
             ("tokenizers via gap's encoder (`encode_documents`: encode_batch_fast, batches of 256)", hf_gap)]
    tokens = {name: fn() for name, fn in cases}   # warm-up, and each tokenizer's token count
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(repeats):
        for name, fn in cases:
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    chars = sum(len(t) for t in texts)
    base = statistics.median(times[cases[0][0]])
    lines = ["| encoder | median time | tokens | tokens/s | characters/s | vs sentencepiece per document |",
             "|---|---|---|---|---|---|"]
    for name, _ in cases:
        t = statistics.median(times[name])
        lines.append(f"| {name} | {t:.3f} s | {tokens[name] / 1e6:.2f} M | {tokens[name] / t / 1e6:.2f} M | "
                     f"{chars / t / 1e6:.2f} M | {base / t:.2f}x |")
    return lines, hf.vocab_size


def bench(quick: bool = False) -> str:
    n_docs = 150 if quick else 1200
    repeats = 3 if quick else 5
    docs = _texts(n_docs)
    sp_model = train_sentencepiece((t for _, t in docs[:200]), {"vocab_size": 8000, "train_max_chars": 2_000_000})
    sp = load_tokenizer(sp_model)
    vocab = sp.get_piece_size()
    chars = sum(len(t) for _, t in docs)
    bare_times, full_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        tokens = _bare(sp, docs)  # warm-up
        for _ in range(repeats):
            started = time.perf_counter()
            _bare(sp, docs)
            bare_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            rows, shard = _full_path(sp_model, docs, tmp, vocab)
            full_times.append(time.perf_counter() - started)
        bare, full = statistics.median(bare_times), statistics.median(full_times)
        rate, read_rows = _random_reads(shard, 20_000 if quick else 200_000, repeats)
        size = os.path.getsize(shard)
    enc_docs = docs[:300]   # the encoder table on a quarter of the documents keeps the section near 5 minutes
    encoder_lines, hf_vocab = _encoders([t for _, t in enc_docs], sp_model, min(repeats, 3))
    real = _sample_texts()
    real_sp = train_sentencepiece(real, {"vocab_size": 8000, "train_max_chars": 20_000_000})
    real_lines, real_hf_vocab = _encoders(real, real_sp, min(repeats, 3), train_docs=len(real))
    real_vocab = load_tokenizer(real_sp).get_piece_size()
    ratio = bare / full
    return "\n".join([
        "## Shards: tokenize + pack + write, random reads",
        "",
        f"{n_docs} synthetic documents, {chars / 1e6:.1f} M characters, {tokens / 1e6:.2f} M tokens "
        f"(sentencepiece BPE, vocabulary {vocab}); seq_len {SEQ_LEN}, one documents part; single thread; "
        f"medians of {repeats} alternating repeats on 2 shared noisy cores.",
        "",
        "| path | median time | tokens/s | relative |",
        "|---|---|---|---|",
        f"| bare `sp.encode` | {bare:.3f} s | {tokens / bare / 1e6:.2f} M | 100% |",
        f"| the tokens phase's per-part path: PackPart (split, encode in batches, pack, row file) + plan_mixture + "
        f"route_part (shuffle, shard order) + write_shard (Arrow IPC, sha256, write) | {full:.3f} s | "
        f"{tokens / full / 1e6:.2f} M | "
        f"**{ratio:.0%}** (target >= 80%) |",
        "",
        f"The full path wrote {rows} rows ({size / 1e6:.1f} MB, uncompressed Arrow IPC stream).",
        "",
        f"Random row reads from the memory-mapped shard ({read_rows} rows, zero-copy numpy views of "
        f"`input_ids`): **{rate / 1e6:.2f} M rows/s** (median of {repeats}).",
        "",
        "### Encoders: sentencepiece and a Hugging Face tokenizer.json side by side",
        "",
        f"The first {len(enc_docs)} of these documents; sentencepiece BPE (vocabulary {vocab}) and a byte-level "
        f"BPE tokenizer.json (vocabulary {hf_vocab}, trained with `tokenizers` on 200 of them; the synthetic "
        f"vocabulary supports no more merges), medians of {min(repeats, 3)} alternating repeats on "
        f"{os.cpu_count()} shared cores (the tokens differ: each tokenizer is timed on its own output).",
        "",
        *encoder_lines,
        "",
        f"Real text: the {len(real)} kept documents of the embedded sample corpus "
        f"({sum(len(t) for t in real) / 1e6:.1f} M characters: guideline pages, PMC papers, abstracts, replay), "
        f"sentencepiece BPE (vocabulary {real_vocab}) and byte-level BPE (vocabulary {real_hf_vocab}), both "
        "trained on these documents:",
        "",
        *real_lines,
        "",
    ])


if __name__ == "__main__":
    print(bench(quick="--quick" in sys.argv))
