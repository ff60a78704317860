"""Benchmark of dedup and its ground truth (issue: dedup/language; language identification moved to
bench_language.py).

Sections: datasketch-equal signatures vs datasketch; near-dedup precision/recall per similarity band
on a labelled set from real text, side by side with datatrove's MinHash (same word 5-gram tokens,
same bands x rows); per-step peak memory of near dedup when the corpus grows 10x.
"""
from __future__ import annotations

import dataclasses
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

REALDATA = Path(os.environ.get("GAP_REALDATA", REPO.parent / "shared" / "realdata"))
PRIORITY = {"guidelines": 0, "papers": 1, "abstracts": 2, "replay": 3}


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _documents(lines):
    from schemas.document import Document

    return [Document(id=d["id"], source=d["source"], subset=d["source"], title="", text=d["text"],
                     meta={k: d[k] for k in ("date",) if k in d}) for d in lines]


# --------------------------------------------------------------------------- signatures
def _bench_signatures(passages: list[str], repeats: int) -> list[str]:
    import numpy as np
    from datasketch import MinHash

    from transforms.dedup.minhash import MinHashParams, shingles, signatures

    params = MinHashParams()
    grams = [shingles(p) for p in passages]

    def ours():
        return signatures(grams, params)

    def theirs():
        return [m.hashvalues for m in MinHash.bulk(grams, num_perm=params.num_perm, seed=params.hash_seed)]

    t_ours, sig = _median_time(ours, repeats)
    t_ds, ds = _median_time(theirs, repeats)
    equal = all(np.array_equal(a, b) for a, b in zip(sig, ds))
    n = sum(len(g) for g in grams)
    return [
        "### MinHash signatures (datasketch 2.0 affine32 / sha1_hash32, 128 permutations)",
        "",
        f"{len(grams)} passages, {n:,} shingles; median of {repeats} runs, both in the same process.",
        "",
        "| implementation | seconds | shingles/s | equal to datasketch |",
        "|---|---:|---:|---|",
        f"| datasketch `MinHash.bulk` | {t_ds:.3f} | {n / t_ds:,.0f} | (reference) |",
        f"| gap vectorised `signatures` | {t_ours:.3f} | {n / t_ours:,.0f} | {'yes, every value' if equal else 'NO'} |",
        "",
        f"Speed-up: {t_ds / t_ours:.2f}x (SHA1 per shingle still dominates; the gain is the batch-wide numpy reduction).",
        "",
    ]


# --------------------------------------------------------------------------- datatrove
def _datatrove_clusters(docs, params) -> dict[str, str] | None:
    """Run datatrove's MinHash stages 1-3 in-process with our tokenizer; None when not installed."""
    try:
        import struct

        from datatrove.data import Document as DTDoc
        from datatrove.pipeline.dedup import minhash as dt_minhash
        from datatrove.utils.hashing import HashConfig
        from datatrove.utils.text import TextNormConfig
    except ImportError:
        return None
    try:
        from loguru import logger
        logger.remove()
    except Exception:  # loguru is datatrove's; silence only when present
        pass
    from transforms.dedup.minhash import tokens

    class _SameTokens:  # the tokens our shingles use (datatrove's English one needs spaCy)
        def word_tokenize(self, text, **_):
            return tokens(text)

    dt_minhash.load_word_tokenizer = lambda language: _SameTokens()
    config = dt_minhash.MinhashConfig(
        n_grams=params.shingle_size, num_buckets=params.bands, hashes_per_bucket=params.rows, seed=params.hash_seed,
        norm_config=TextNormConfig(lowercase=True, norm_whitespace=True, remove_punctuation=False,
                                   norm_unicode_diacritics=False, norm_numbers=False),
        # datatrove's default xxhash path passes str to xxhash 4.x, which now wants bytes: use its sha1 option
        hash_config=HashConfig(precision=64, hash_fc="sha1"))
    with tempfile.TemporaryDirectory(prefix="gap-dt-") as tmp:
        sigs, buckets, clusters = (os.path.join(tmp, n) for n in ("sigs", "buckets", "clusters"))
        stage1 = dt_minhash.MinhashDedupSignature(sigs, config=config)
        for _ in stage1.run(iter([DTDoc(text=d.text, id=d.id) for d in docs]), rank=0, world_size=1) or []:
            pass
        stage2 = dt_minhash.MinhashDedupBuckets(sigs, buckets, config=config)
        for rank in range(params.bands):
            for _ in stage2.run(rank=rank, world_size=params.bands) or []:
                pass
        stage3 = dt_minhash.MinhashDedupCluster(buckets, clusters, config=config, save_cluster_id=True)
        for _ in stage3.run(world_size=1) or []:
            pass
        result = {d.id: d.id for d in docs}
        path = os.path.join(clusters, "000000.clusters")
        if os.path.exists(path):
            with open(path, "rb") as fh:
                for index, cluster in struct.iter_unpack("<2I", fh.read()):
                    result[docs[index].id] = f"dt{cluster}"
    return result


def _bench_near(realdata: Path, per_level: int, repeats: int) -> list[str]:
    from testkit.labelled_set import band_report, build_pairs, documents_with_truth
    from transforms.dedup.evaluate import clusters, dedup_local, pairwise_scores
    from transforms.dedup.minhash import MinHashParams
    from transforms.keys import decide_on_documents, dedup_decisions

    params = MinHashParams()
    pairs = build_pairs(realdata, passages_per_level=per_level)
    lines = documents_with_truth(pairs, params.threshold)
    docs = _documents(lines)
    truth = {d["id"]: d["cluster"] for d in lines}
    megabytes = sum(len(d.text.encode()) for d in docs) / 1e6

    t_ours, lost = _median_time(lambda: dedup_local(docs, params, PRIORITY), repeats)
    ours = clusters([d.id for d in docs], lost)
    estimate_only = dataclasses.replace(params, verify_hashes=0)
    t_est, lost_est = _median_time(lambda: dedup_local(docs, estimate_only, PRIORITY), repeats)
    est = clusters([d.id for d in docs], lost_est)
    t_beam_start = time.perf_counter()
    dropped, _ = decide_on_documents(docs, lambda read: dedup_decisions(read, PRIORITY, params))
    t_beam = time.perf_counter() - t_beam_start
    beam_same = clusters([d.id for d in docs], {x.doc_id: x.detail for x in dropped}) == ours
    t_dt, dt = _median_time(lambda: _datatrove_clusters(docs, params), repeats)

    rows = [("gap (exact + near, plain functions the DoFns call)", t_ours, ours),
            ("gap, signature estimate only (verify_hashes: 0, the earlier check)", t_est, est)]
    if dt is not None:
        rows.append(("datatrove 0.10.1 MinHash stages 1-3", t_dt, dt))
    kinds = {k: sum(p.kind == k for p in pairs) for k in ("edit", "real_version", "capture")}
    out = [
        "### Near-dedup against ground truth, side by side with datatrove",
        "",
        f"Labelled set from `../shared/realdata`: {len(docs)} documents ({megabytes:.1f} MB), {len(pairs)} pairs: "
        f"{kinds['edit']} controlled edits of CDC MMWR passages (substitutions, deletions, insertions, changed "
        f"numbers) at true Jaccard levels 1.0 ... 0.3, {kinds['real_version']} real successive editions of CDC "
        f"reports, {kinds['capture']} pairs of captures of the same WHO/NICE page. Truth: duplicates iff true "
        f"Jaccard of word 5-gram shingles >= {params.threshold}. Both tools use the same tokens (numbers kept), "
        f"5-grams and {params.bands} bands x {params.rows} rows; datatrove hashes with its SHA1-64 option and merges "
        "every bucket collision by union-find, gap checks each star edge's shingle Jaccard first (exact from "
        f"up to {params.verify_hashes} carried shingle hashes per document; the earlier check, the signatures' "
        "estimated Jaccard, is shown for comparison). "
        f"Times: median of {repeats} runs in this process, one after the other.",
        "",
        "| tool | seconds | docs/s | pairwise precision | pairwise recall | F1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    band_rows = {}
    for name, seconds, predicted in rows:
        s = pairwise_scores(predicted, truth)
        out.append(f"| {name} | {seconds:.3f} | {len(docs) / seconds:,.0f} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} |")
        band_rows[name] = band_report(pairs, predicted, params.threshold)
    if dt is None:
        out.append("| datatrove | skipped: not installed (`pip install -e '.[bench]'`) | | | | |")
    else:
        out += ["", f"Throughput ratio gap / datatrove: {t_dt / t_ours:.2f}x (same run)."]
    out += ["", f"The same decisions through Beam, wired as a build wires them (`transforms.keys.dedup_decisions`: "
            f"key records read from a part file, FnApiRunner): {t_beam:.1f} s "
            f"including pipeline start-up; clusters identical to the plain run: {'yes' if beam_same else 'NO'}.", "",
            "Per band of true Jaccard (merged = the pair ended in one cluster):", "",
            "| band | pairs | " + " | ".join(f"{n.split(' (')[0]} merged" for n, _, _ in rows) + " | meaning |",
            "|---|---:|" + "---:|" * len(rows) + "---|"]
    for i, band in enumerate(band_rows[rows[0][0]]):
        cells = []
        for name, _, _ in rows:
            b = band_rows[name][i]
            cells.append(f"{b['merged']} ({b['merged'] / b['pairs']:.0%})" if b["pairs"] else "-")
        meaning = "recall" if band["duplicates"] else "false merges"
        out.append(f"| {band['band']} | {band['pairs']} | " + " | ".join(cells) + f" | {meaning} |")
    out.append("")
    return out


# --------------------------------------------------------------------------- memory
def _bench_memory(realdata: Path, base_docs: int) -> list[str]:
    from testkit.labelled_set import edited_copy, load_cdc_texts
    from schemas.document import Document
    from transforms.dedup.minhash import MinHashParams
    from transforms.dedup.near import sketch_documents, star_edges

    params = MinHashParams()
    texts = load_cdc_texts(realdata)
    passages = []
    for url, text in texts.items():
        words = text.split()[80:]
        chunks = (" ".join(words[k:k + 300]) for k in range(0, len(words) - 300, 300))
        passages.extend(chunks)

    def corpus(n):
        # Every fifth document is a near copy (J~0.9) of the one before it; the others are distinct
        # passages (their count caps the corpus: repeats would turn it into one big duplicate cluster).
        docs = []
        distinct = iter(passages)
        previous = ""
        for i in range(n):
            if i % 5 == 4:
                text, _ = edited_copy(previous, 0.9, f"mem{i}")
                text = " ".join(text.split()[:300])  # equal-sized documents: peaks comparable
            else:
                text = next(distinct)
            previous = text
            docs.append(Document(id=f"m{i}", source="s", subset="papers", title="", text=text))
        return docs

    def per_step_peaks(docs):
        peaks = {"sketch (64-doc batch)": 0, "bucket best + candidate edges (one bucket)": 0}
        samples: dict = {name: [] for name in peaks}
        buckets: dict = {}
        tracemalloc.start()
        for start in range(0, len(docs), 64):
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            entries = list(sketch_documents(docs[start:start + 64], params, PRIORITY))
            used = tracemalloc.get_traced_memory()[1] - base
            samples["sketch (64-doc batch)"].append(used)
            peaks["sketch (64-doc batch)"] = max(peaks["sketch (64-doc batch)"], used)
            for key, entry in entries:  # stands in for the shuffle (held by the runner, not a worker step)
                buckets.setdefault(key, []).append(entry)
            del entries
        for members in buckets.values():
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            list(star_edges(members, min(members), params))
            used = tracemalloc.get_traced_memory()[1] - base
            samples["bucket best + candidate edges (one bucket)"].append(used)
            peaks["bucket best + candidate edges (one bucket)"] = max(peaks["bucket best + candidate edges (one bucket)"], used)
        largest = max(len(m) for m in buckets.values())
        tracemalloc.stop()
        medians = {name: statistics.median(values) for name, values in samples.items()}
        return peaks, medians, largest

    small, small_med, small_largest = per_step_peaks(corpus(base_docs))
    large, large_med, large_largest = per_step_peaks(corpus(base_docs * 10))
    out = ["### Near-dedup memory when the corpus grows 10x", "",
           f"Corpus: {base_docs} and {base_docs * 10} documents of 300 words from CDC reports, a fifth of them edited "
           "near copies. Python-heap peak of each worker step (tracemalloc, per call, max over calls); the "
           "(band, hash) grouping in between is Beam's shuffle and is not held by any one step. "
           "CombinePerKey(min) keeps one entry per key and the id joins hold one document per key.", "",
           "The max over calls also reflects the longest text in a batch (real passages differ in "
           "characters per word), so the median per call is shown beside it.", "",
           f"| step | median at {base_docs} docs | median at {base_docs * 10} docs | ratio | max at {base_docs} | "
           f"max at {base_docs * 10} |", "|---|---:|---:|---:|---:|---:|"]
    for step in small:
        out.append(f"| {step} | {small_med[step] / 1024:,.0f} KiB | {large_med[step] / 1024:,.0f} KiB | "
                   f"{large_med[step] / max(small_med[step], 1):.2f} | {small[step] / 1024:,.0f} KiB | "
                   f"{large[step] / 1024:,.0f} KiB |")
    out += ["", f"Largest bucket: {small_largest} vs {large_largest} entries (buckets hold one document and its "
            "near copies; they grow with duplication, not with corpus size).", ""]
    return out


def bench(quick: bool = False) -> str:
    lines = ["## Dedup, decontamination", ""]
    if not REALDATA.is_dir():
        return "\n".join(lines + [f"Skipped: real documents not found at {REALDATA}.", ""])
    lines.append("Machine: 2 shared, noisy cores; pure CPU. " + ("Quick mode (smaller sets)." if quick else ""))
    lines.append("")
    from testkit.labelled_set import load_cdc_texts

    texts = list(load_cdc_texts(REALDATA).values())
    passages = [" ".join(t.split()[80:480]) for t in texts[: (40 if quick else 200)]]
    lines += _bench_signatures(passages, repeats=3)
    lines += _bench_near(REALDATA, per_level=4 if quick else 20, repeats=1 if quick else 3)
    lines += _bench_memory(REALDATA, base_docs=60 if quick else 200)
    return "\n".join(lines)


if __name__ == "__main__":
    print(bench(quick="--quick" in sys.argv))
