"""`gap report OUT`: OUT/report/report.md with PNG plots beside it, and a data card.

Everything is read from the built corpus: manifest.json (accounting, stages, sources, mixture, shards),
documents/*.parquet (kept documents: lengths, languages, licences) and dropped/*.jsonl (drops; the near-
duplicate drops name the document they lost to, which gives the cluster sizes).
"""
from __future__ import annotations

import collections
import math
from pathlib import Path
from typing import Any

from gap_pipeline.export import corpus_files, documents_batches, licence_allows_redistribution
from schemas import stages
from schemas.events import drop_from_json
from schemas.jsonl import jsonl_lines
from schemas.manifest import read_manifest
from schemas.stages import stage_rank

SUBSET_ORDER = ("guidelines", "papers", "abstracts", "replay")
SUBSET_COLOURS = {"guidelines": "#1b9e77", "papers": "#d95f02", "abstracts": "#7570b3", "replay": "#e7298a"}
NEAR_DEDUP_STAGES = (stages.DEDUP_NEAR, "near_dedup")  # and the name older corpora used
EXACT_DEDUP_STAGES = (stages.DEDUP_EXACT, "exact_dedup")


class ReportError(ValueError):
    """A corpus file the report reads is damaged (not Parquet, not a drop record); the message names it."""


def _subset_key(subset: str) -> tuple[int, str]:
    return (SUBSET_ORDER.index(subset) if subset in SUBSET_ORDER else len(SUBSET_ORDER), subset)


def _fmt(n: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


# Document lengths are counted in log-spaced bins, LENGTH_BINS_PER_DECADE per factor of ten (a bin spans
# 12%), not kept one number per document: the report's memory does not grow with the corpus.
LENGTH_BINS_PER_DECADE = 20


def length_bin(chars: int) -> int:
    """The bin of a document of `chars` characters: bin b holds lengths in [10^(b/20), 10^((b+1)/20))."""
    return math.floor(math.log10(max(chars, 1)) * LENGTH_BINS_PER_DECADE)


def bin_edges(first: int, last: int) -> list[float]:
    """The edges of bins first..last (one more edge than bins)."""
    return [10 ** (b / LENGTH_BINS_PER_DECADE) for b in range(first, last + 2)]


def median_length(bins: dict[int, int]) -> float:
    """The median document length, to within its bin: the geometric middle of the bin holding it."""
    half, seen = sum(bins.values()) / 2, 0
    for b in sorted(bins):
        seen += bins[b]
        if seen >= half:
            return 10 ** ((b + 0.5) / LENGTH_BINS_PER_DECADE)
    return 0.0


def collect(out: Path) -> dict[str, Any]:
    """Everything the report shows, as plain values (also handy for tests). Memory: counters by subset,
    source, licence and language, and length bins; duplicate cluster sizes come from the manifest
    (`dedup.clusters`, counted by the build), or for an older corpus by survivor id from the drops."""
    manifest = read_manifest(out)
    lengths: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    languages: collections.Counter = collections.Counter()
    redistributable: dict[str, dict[str, int]] = collections.defaultdict(lambda: {"documents": 0, "chars": 0})
    licences: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    sources = manifest.get("sources", {})
    fields = ["source", "subset", "text", "license", "lang"]
    for batch in documents_batches(out, manifest, ReportError, fields):
        for source, subset, text, licence, lang in zip(*(batch.column(name).to_pylist() for name in fields)):
            lengths[subset][length_bin(len(text))] += 1
            languages[lang or "und"] += 1
            licences[source][licence or "unknown"] += 1
            if sources.get(source, {}).get("redistributable") is not False and licence_allows_redistribution(licence):
                redistributable[source]["documents"] += 1
                redistributable[source]["chars"] += len(text)
    drops: collections.Counter = collections.Counter()
    dropped_languages: collections.Counter = collections.Counter()
    recorded = (manifest.get("dedup") or {}).get("clusters")
    winners = None if isinstance(recorded, dict) else {"near": collections.Counter(), "exact": collections.Counter()}
    for path in corpus_files(out, manifest, "dropped", ".jsonl", ReportError):
        for drop in _read_drops(path, out):
            drops[(drop.stage, drop.reason)] += 1
            if winners is not None and drop.stage in NEAR_DEDUP_STAGES and drop.detail:
                winners["near"][drop.detail] += 1
            if winners is not None and drop.stage in EXACT_DEDUP_STAGES and drop.detail:
                winners["exact"][drop.detail] += 1
            if drop.stage == stages.LANGUAGE:
                lang = drop.reason.split(":")[-1]
                dropped_languages[lang[5:] if lang.startswith("lang_") else lang] += 1
    if winners is None:  # counted by the build (manifest dedup.clusters): nothing held per cluster here
        try:
            near_clusters = {int(k): int(n) for k, n in recorded.get(stages.DEDUP_NEAR, {}).items()}
            exact_clusters = {int(k): int(n) for k, n in recorded.get(stages.DEDUP_EXACT, {}).items()}
        except (AttributeError, TypeError, ValueError):
            raise ReportError(f"{out / 'manifest.json'}: dedup.clusters is not a count per stage and cluster size; "
                              f"run `gap verify {out}`") from None
    else:  # a corpus built before the manifest recorded them: a cluster is the survivor plus its duplicates
        near_clusters = collections.Counter(1 + n for n in winners["near"].values())
        exact_clusters = collections.Counter(1 + n for n in winners["exact"].values())
    return {"manifest": manifest, "lengths": {k: dict(v) for k, v in lengths.items()}, "languages": dict(languages),
            "dropped_languages": dict(dropped_languages), "drops": dict(drops),
            "near_clusters": dict(near_clusters), "exact_clusters": dict(exact_clusters),
            "redistributable": {k: dict(v) for k, v in sorted(redistributable.items())},
            "licences": {k: dict(v) for k, v in sorted(licences.items())}}


def _read_drops(path: str, out: Path):
    """The drop records of one dropped/*.jsonl file; `ReportError` naming the file (and line) when damaged."""
    try:
        for number, line in jsonl_lines(Path(path).read_bytes()):
            try:
                yield drop_from_json(line)
            except (ValueError, TypeError) as exc:  # not JSON, or not a drop record's fields
                raise ReportError(f"{path} line {number} is not a drop record ({' '.join(str(exc).split())}); "
                                  f"run `gap verify {out}`") from None
    except UnicodeDecodeError as exc:
        raise ReportError(f"{path} is not valid UTF-8 ({exc.reason}); run `gap verify {out}`") from None


# --- plots -------------------------------------------------------------------------------------------

def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": 11, "axes.titlesize": 13, "axes.labelsize": 11, "figure.dpi": 110,
                         "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _integer_axis(axis) -> None:
    from matplotlib.ticker import MaxNLocator
    axis.set_major_locator(MaxNLocator(integer=True))


def _empty(ax, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=13, color="#555555", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _label_bars(ax, bars, values) -> None:
    for bar, value in zip(bars, values):
        ax.text(bar.get_x() + bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {_fmt(value)}",
                va="center", fontsize=10)


def _counts(ax, labels: list[str], values: list[int], colour: str, ylabel: str) -> None:
    """Vertical bars of counts, each count written on its bar."""
    bars = ax.bar(range(len(values)), values, color=colour)
    ax.set_xticks(range(len(values)), labels)
    for bar, value in zip(bars, values):
        ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height(), str(value), ha="center", va="bottom",
                fontsize=10)
    ax.set_ylabel(ylabel)
    _integer_axis(ax.yaxis)
    ax.margins(y=0.15)


def _save(plt, fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_tokens(data: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    sources = data["manifest"].get("sources", {})
    fig, (ax_sub, ax_src) = plt.subplots(1, 2, figsize=(13, max(4.0, 0.45 * len(sources) + 1.5)),
                                         gridspec_kw={"width_ratios": [1, 1.4]})
    per_subset: dict[str, dict[str, int]] = collections.defaultdict(lambda: {"train": 0, "validation": 0})
    rows = []
    for name, s in sources.items():
        tokens = s.get("tokens", {})
        subset = s.get("subset", "?")
        for split in ("train", "validation"):
            per_subset[subset][split] += int(tokens.get(split, 0))
        rows.append((subset, name, int(tokens.get("train", 0)), int(tokens.get("validation", 0))))
    subsets = sorted(per_subset, key=_subset_key)
    if subsets:
        y = range(len(subsets))
        train = [per_subset[s]["train"] for s in subsets]
        valid = [per_subset[s]["validation"] for s in subsets]
        ax_sub.barh(y, train, color=[SUBSET_COLOURS.get(s, "#999999") for s in subsets], label="train")
        bars = ax_sub.barh(y, valid, left=train, color="#bbbbbb", label="validation")
        _label_bars(ax_sub, bars, [t + v for t, v in zip(train, valid)])
        ax_sub.set_yticks(list(y), subsets)
        ax_sub.invert_yaxis()
        ax_sub.legend(loc="lower right", fontsize=9)
        ax_sub.margins(x=0.2)
    else:
        _empty(ax_sub, "no tokens")
    ax_sub.set_title("Tokens per subset (before mixing)")
    ax_sub.set_xlabel("tokens")
    rows.sort(key=lambda r: (_subset_key(r[0]), -(r[2] + r[3]), r[1]))
    if rows:
        y = range(len(rows))
        totals = [r[2] + r[3] for r in rows]
        bars = ax_src.barh(y, totals, color=[SUBSET_COLOURS.get(r[0], "#999999") for r in rows])
        _label_bars(ax_src, bars, totals)
        ax_src.set_yticks(list(y), [f"{r[1]} ({r[0]})" for r in rows])
        ax_src.invert_yaxis()
        if max(totals) > 100 * max(1, min(t for t in totals if t > 0) if any(totals) else 1):
            ax_src.set_xscale("log")
        ax_src.margins(x=0.2)
    else:
        _empty(ax_src, "no sources")
    ax_src.set_title("Tokens per source (train + validation)")
    ax_src.set_xlabel("tokens")
    _save(plt, fig, path)


def plot_lengths(data: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    subsets = sorted(data["lengths"], key=_subset_key) or ["(none)"]
    cols = min(2, len(subsets))
    rows = math.ceil(len(subsets) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 3.6 * rows), squeeze=False)
    for ax, subset in zip(axes.flat, subsets):
        bins = data["lengths"].get(subset, {})
        if not bins:
            _empty(ax, "no documents")
        else:
            first, last = min(bins), max(bins)
            edges = bin_edges(first, last)
            ax.hist(edges[:-1], bins=edges, weights=[bins.get(b, 0) for b in range(first, last + 1)],
                    color=SUBSET_COLOURS.get(subset, "#999999"), edgecolor="white")
            ax.set_xscale("log")
            from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
            ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: _fmt(x)))
            ax.xaxis.set_minor_formatter(NullFormatter())
            median = median_length(bins)
            ax.axvline(median, color="black", linestyle="--", linewidth=1)
            ax.text(median, ax.get_ylim()[1] * 0.92, f" median ≈ {_fmt(median)}", fontsize=10)
            ax.set_xlabel("document length (characters, log scale)")
            ax.set_ylabel("documents")
            _integer_axis(ax.yaxis)
        ax.set_title(f"{subset}: {sum(bins.values())} documents")
    for ax in list(axes.flat)[len(subsets):]:
        ax.axis("off")
    fig.suptitle("Document length per subset (kept documents)", fontsize=14)
    _save(plt, fig, path)


def plot_drops(data: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    items = sorted(data["drops"].items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))
    fig, ax = plt.subplots(figsize=(11, max(3.5, 0.42 * len(items) + 1.5)))
    if items:
        labels = [f"{stage}: {reason}" for (stage, reason), _ in items]
        counts = [n for _, n in items]
        names = sorted({stage for (stage, _), _ in items})
        palette = plt.get_cmap("tab10")
        colours = [palette(names.index(stage) % 10) for (stage, _), _ in items]
        bars = ax.barh(range(len(items)), counts, color=colours)
        _label_bars(ax, bars, counts)
        ax.set_yticks(range(len(items)), labels)
        ax.invert_yaxis()
        ax.margins(x=0.15)
        ax.set_xlabel("documents dropped")
        _integer_axis(ax.xaxis)
    else:
        _empty(ax, "no documents were dropped")
    ax.set_title("Documents dropped, per stage and reason")
    _save(plt, fig, path)


def plot_clusters(data: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, key, title in ((axes[0], "near_clusters", "Near-duplicate (MinHash) clusters"),
                           (axes[1], "exact_clusters", "Exact-duplicate clusters")):
        clusters = data[key]
        if clusters:
            sizes = sorted(clusters)
            _counts(ax, [str(s) for s in sizes], [clusters[s] for s in sizes], "#4477aa", "clusters")
            ax.set_xlabel("cluster size (documents, survivor included)")
        else:
            _empty(ax, "no duplicates found")
        ax.set_title(title)
    _save(plt, fig, path)


def plot_languages(data: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    kept = data["manifest"].get("languages") or data["languages"]
    dropped = data["dropped_languages"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for ax, counts, title, colour in ((axes[0], kept, "Kept documents per language", "#228833"),
                                      (axes[1], dropped, "Dropped by the language filter", "#cc6677")):
        if counts:
            items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:20]
            _counts(ax, [k for k, _ in items], [v for _, v in items], colour, "documents")
        else:
            _empty(ax, "none")
        ax.set_title(title)
    _save(plt, fig, path)


PLOTS = (("tokens.png", plot_tokens, "Tokens per subset and per source"),
         ("lengths.png", plot_lengths, "Document lengths per subset"),
         ("drops.png", plot_drops, "Drops per stage and reason"),
         ("duplicates.png", plot_clusters, "Duplicate cluster sizes"),
         ("languages.png", plot_languages, "Languages"))


# --- markdown ----------------------------------------------------------------------------------------

def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _publishers() -> dict[str, str]:
    try:
        from scrapers.specs import load_specs
        return {name: spec.get("publisher", "") for name, spec in load_specs().items()}
    except Exception:  # noqa: BLE001 - the report still works without the specs
        return {}


def render_markdown(data: dict[str, Any], plots: list[tuple[str, str]]) -> str:
    m = data["manifest"]
    tok = m["tokenizer"]
    acc = m.get("accounting", {})
    shards = m.get("shards", [])
    lines = ["# Corpus report", "",
             f"Config hash `{m.get('config_hash', '')[:16]}`, manifest schema {m.get('schema_version')}. "
             f"Tokenizer `{tok.get('file', 'tokenizer.model')}` (sha256 `{tok['sha256'][:16]}…`), vocabulary "
             f"{tok['vocab_size']}, sequences of {tok['seq_len']} tokens (+1 for the shifted target).", ""]

    lines += ["## Accounting", ""]
    raw, docs = acc.get("raw_records", {}), acc.get("documents", {})
    if raw:
        lines += [f"- Raw records: {raw.get('in', 0)} in = {raw.get('excluded', 0)} excluded + "
                  f"{raw.get('quarantined', 0)} quarantined + {raw.get('extracted', 0)} extracted."]
    if docs:
        lines += [f"- Documents: {docs.get('extracted', 0)} extracted = {docs.get('dropped', 0)} dropped + "
                  f"{docs.get('kept', 0)} kept."]
    lines += [f"- Balanced: **{acc.get('balanced', 'unknown')}**.", ""]

    # In the build's order, so each stage's "in" is the previous stage's "out".
    table = sorted(m.get("stages", {}).items(), key=lambda kv: stage_rank(kv[0]))
    if table:
        lines += _table(["stage", "in", "out", "dropped (reason: count)"],
                        [[name, s.get("docs_in", ""), s.get("docs_out", ""),
                          ", ".join(f"{r}: {n}" for r, n in sorted(s.get("dropped", {}).items())) or "—"]
                         for name, s in table])

    lines += ["## Mixture (train tokens)", ""]
    mix = m.get("mixture", {})
    subsets = mix.get("subsets", {})
    if subsets:
        lines += [f"Mode `{mix.get('mode')}`; {_fmt(mix.get('train_tokens', 0))} train tokens.", ""]
        lines += _table(["subset", "available tokens", "train tokens", "target share", "realised share"],
                        [[s, _fmt(e.get("available_tokens", e.get("available_rows", 0) * mix.get("tokens_per_row", 1))),
                          _fmt(e.get("train_tokens", e.get("tokens", 0))),
                          f"{e['target_share']:.2%}" if "target_share" in e else "—",
                          f"{e.get('realised_share', 0):.2%}"]
                         for s, e in sorted(subsets.items(), key=lambda kv: _subset_key(kv[0]))])
    if mix.get("sources"):  # mixture.by: source — the targets were per source
        lines += ["Per source (the mixture's targets):", ""]
        lines += _table(["source", "subset", "train tokens", "target share", "realised share"],
                        [[name, e.get("subset") or "—", _fmt(e.get("train_tokens", e.get("tokens", 0))),
                          f"{e['target_share']:.2%}" if "target_share" in e else "—",
                          f"{e.get('realised_share', 0):.2%}"]
                         for name, e in sorted(mix["sources"].items())])
    waste = m.get("pack", {})
    if waste:
        lines += ["Tail waste of packing (tokens after the last full row of each part's packing group): " +
                  ", ".join(f"{s} {w.get('tail_waste_tokens', 0)}" for s, w in sorted(waste.items())) + ".", ""]
    by_split = collections.defaultdict(lambda: [0, 0, 0])
    for s in shards:
        by_split[s["split"]][0] += 1
        by_split[s["split"]][1] += s["rows"]
        by_split[s["split"]][2] += s["tokens"]
    lines += ["## Shards", ""]
    lines += _table(["split", "files", "rows", "tokens"],
                    [[k, v[0], v[1], _fmt(v[2])] for k, v in sorted(by_split.items())])

    lines += ["## Plots", ""]
    for name, title in plots:
        lines += [f"### {title}", "", f"![{title}]({name})", ""]

    lines += data_card_lines(data)
    return "\n".join(lines) + "\n"


def data_card_lines(data: dict[str, Any]) -> list[str]:
    """The data card: sources, publishers, licences, counts and the redistributable part."""
    m = data["manifest"]
    sources = m.get("sources", {})
    publishers = _publishers()
    lines = ["## Data card", "",
              "What the corpus is made of, where it comes from and under which terms. Licences are those the "
              "publishers state; only the documents under open licences (public domain, CC0, CC-BY, CC-BY-SA, "
              "open government, MIT/BSD/Apache) from sources that allow it are redistributable "
              "(`gap export OUT --redistributable`). The rest may be rebuilt by anyone with this pipeline "
              "but not redistributed.", ""]
    rows = []
    for name, s in sorted(sources.items(), key=lambda kv: (_subset_key(kv[1].get("subset", "")), kv[0])):
        tokens = s.get("tokens", {})
        lic = data["licences"].get(name) or {}
        licence = s.get("license", "")
        if lic and (set(lic) != {licence}):
            licence = f"{licence} (" + ", ".join(f"{k}: {v}" for k, v in sorted(lic.items())) + ")"
        rows.append([name, s.get("publisher") or publishers.get(name, ""), s.get("subset", ""), licence,
                     "yes" if s.get("redistributable") else "no", s.get("raw_records", ""),
                     s.get("documents_kept", sum(lic.values()) if lic else ""),
                     _fmt(tokens.get("train", 0) + tokens.get("validation", 0))])
    lines += _table(["source", "publisher", "subset", "licence", "redistributable (spec)", "raw records",
                     "kept documents", "tokens"], rows)
    red = data["redistributable"]
    total_docs = sum(sum(v.values()) for v in data["lengths"].values())
    red_docs = sum(v["documents"] for v in red.values())
    lines += ["### The redistributable part", "",
              f"{red_docs} of {total_docs} kept documents "
              f"({(red_docs / total_docs if total_docs else 0):.1%}), "
              f"{_fmt(sum(v['chars'] for v in red.values()))} characters.", ""]
    if red:
        lines += _table(["source", "documents", "characters"],
                        [[k, v["documents"], _fmt(v["chars"])] for k, v in red.items()])
    return lines


# --- dataset card (README.md with YAML front matter, as the Hugging Face Hub reads it) ----------------

CARD_MARK = "<!-- written by gap report: the dataset card of this corpus -->"
_SIZES = ((1e3, "n<1K"), (1e4, "1K<n<10K"), (1e5, "10K<n<100K"), (1e6, "100K<n<1M"), (1e7, "1M<n<10M"),
          (1e8, "10M<n<100M"), (1e9, "100M<n<1B"), (1e10, "1B<n<10B"), (1e11, "10B<n<100B"), (1e12, "100B<n<1T"))


def size_category(rows: int) -> str:
    return next((name for limit, name in _SIZES if rows < limit), "n>1T")


def dataset_card(data: dict[str, Any]) -> str:
    """README.md for the corpus folder: YAML front matter (configs -> the Arrow shards per split, so
    `datasets.load_dataset(OUT)` reads them; languages; licence; size) and the data card as its body."""
    import yaml

    m = data["manifest"]
    tok = m["tokenizer"]
    splits = sorted({s["split"] for s in m.get("shards", []) if s.get("rows")})
    rows = sum(s["rows"] for s in m.get("shards", []))
    languages = sorted(lang for lang in m.get("languages", data.get("languages", {})) if lang and lang != "und")
    front = {
        "pretty_name": "GAP-Replay-style medical pretraining corpus (gap_pipeline)",
        "language": languages or ["en"],
        # Per-source licences differ (see the table below); the Hub's single field cannot hold them.
        "license": "other",
        "task_categories": ["text-generation"],
        "tags": ["medical", "pretraining", "tokenized", "gap_pipeline"],
        "size_categories": [size_category(rows)],
        "configs": [{"config_name": "default",
                     "data_files": [{"split": split, "path": f"{split}/*.arrow"} for split in splits]}],
    }
    lines = ["---", yaml.safe_dump(front, sort_keys=False, allow_unicode=True).rstrip(), "---", CARD_MARK, "",
             "# GAP-Replay-style medical pretraining corpus", "",
             f"Tokenized rows of {tok['seq_len']} + 1 token ids (`input_ids`, packed documents: BOS + text + EOS), "
             f"with `subset`, `doc_ids` and `doc_starts` for provenance. Tokenizer `{tok.get('file', 'tokenizer.model')}` "
             f"(sha256 `{tok['sha256'][:16]}…`, vocabulary {tok['vocab_size']}, BOS {tok['bos_id']}, "
             f"EOS {tok['eos_id']}); config hash `{m.get('config_hash', '')[:16]}`. Files are uncompressed Arrow "
             "IPC streams; `manifest.json` lists each with its sha256.", "",
             "```python", "import datasets",
             "ds = datasets.load_dataset(\"path/to/this/folder\")          # train and validation, from configs above",
             "ds = datasets.load_dataset(\"arrow\", data_files={\"train\": \"train/*.arrow\"}, streaming=True)",
             "```", ""]
    lines += data_card_lines(data)
    return "\n".join(lines) + "\n"


def write_dataset_card(out_dir: str | Path, data: dict[str, Any] | None = None) -> Path | None:
    """Write OUT/README.md; a README.md that gap did not write is left alone (returns None)."""
    out = Path(out_dir)
    path = out / "README.md"
    if path.exists() and not (path.is_file() and CARD_MARK in path.read_text(encoding="utf-8", errors="replace")):
        return None
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(dataset_card(data or collect(out)), encoding="utf-8")
    tmp.replace(path)
    return path


def write_report(out_dir: str | Path, plots: bool = True) -> Path:
    """Write OUT/report/report.md (+ PNGs); returns the markdown path."""
    out = Path(out_dir)
    data = collect(out)
    folder = out / "report"
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    if plots:
        for name, fn, title in PLOTS:
            fn(data, folder / name)
            made.append((name, title))
    path = folder / "report.md"
    path.write_text(render_markdown(data, made), encoding="utf-8")
    write_dataset_card(out, data)
    return path
