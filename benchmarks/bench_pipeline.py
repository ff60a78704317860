"""End-to-end builds: the embedded sample, and generated raw stores of N documents (scale).

Scale: `generate_raw_store(n, out)` writes a raw store in the real format (schemas/raw.py, Parquet parts
cut like the scrapers' raw-store writer: 64 records or 32 MB) by varying the embedded sample's own raw records with a seeded RNG: MEDLINE
bulk files of 500 citations (real citation XML, new PMIDs, abstracts re-drawn from the sample's abstract
sentences), one JATS file per paper (a real PLOS article with every paragraph re-drawn from the papers'
sentences and a new DOI; every third names an abstract's PMID, so `fulltext` has work), JSON-lines replay
files (a few documents in Spanish, so the language filter has work) and CDC-style plain-text reports.
About 6% of documents are near duplicates of an earlier one (a sentence left out, words swapped) and 2%
exact copies under a new id. Each build runs in a fresh child process (`--child`), so peak RSS is the
build's own; per-stage times are Beam's own `ptransform_execution_time` counters (the SDK harness's state
sampler: no profiler, no extra work), read from the 1-worker and the 2-worker run.
"""
from __future__ import annotations

import gzip
import html
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE_RAW = REPO / "gap_pipeline" / "sample" / "raw"
FETCHED_AT = "2026-11-22T00:00:00Z"
EXEC_TIME = "metric:ptransform_execution_time:total_msecs:v1"

# Share of documents per kind (by count). Near and exact duplicates are drawn inside each kind.
MIX = {"abstract": 0.70, "paper": 0.06, "replay": 0.16, "spanish": 0.02, "guideline": 0.06}
NEAR, EXACT = 0.06, 0.02
CITATIONS_PER_FILE = 500
REPLAY_PER_FILE = 200
# As scrapers/raw_store.py's RawStoreWriter flushes a part (its defaults).
RECORDS_PER_PART = 64
PART_BYTES = 32 * 1024 * 1024

_SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
_MARK = re.compile(r"@@(\w+)@@")


# --------------------------------------------------------------------------------------- generator

def _sentences(text: str, min_words: int = 4) -> list[str]:
    return [s for s in _SENT.split(" ".join(text.split())) if len(s.split()) >= min_words]


def _sample_rows(source: str) -> list[dict]:
    import pyarrow.parquet as pq
    return pq.read_table(SAMPLE_RAW / source / "part-00000.parquet").to_pylist()


class Templates:
    """What the generator varies, read once from the embedded sample's raw store."""

    def __init__(self) -> None:
        from lxml import etree
        from lxml import html as lhtml

        # MEDLINE: each citation with its PMID and its <Abstract> content turned into slots.
        xml = gzip.decompress(_sample_rows("pubmed")[0]["content"]).decode("utf-8")
        head, _, rest = xml.partition("<MedlineCitation ")
        self.medline_head = head
        self.citations: list[tuple[str, int]] = []  # (citation with @@PMID@@/@@ABSTRACT@@, abstract sections)
        self.abstract_pool: list[str] = []
        for block in ("<MedlineCitation " + rest).split("</MedlineCitation>")[:-1]:
            block += "</MedlineCitation>"
            sections = etree.fromstring(block.encode("utf-8")).findall(".//Abstract/AbstractText")
            for sec in sections:
                self.abstract_pool.extend(_sentences("".join(sec.itertext())))
            tpl = re.sub(r'<PMID Version="(\d+)">\d+</PMID>', r'<PMID Version="\1">@@PMID@@</PMID>', block, count=1)
            tpl = re.sub(r"<Abstract>.*?</Abstract>", "<Abstract>@@ABSTRACT@@</Abstract>", tpl, count=1, flags=re.S)
            self.citations.append((tpl, len(sections)))
        # JATS: every paragraph's text (and the prose tails of its inline children) becomes a slot; so does the DOI.
        self.papers: list[list[str]] = []  # static text and slot names, alternating
        self.paper_pool: list[str] = []
        for row in _sample_rows("pmc"):
            try:
                root = etree.fromstring(row["content"])
            except etree.XMLSyntaxError:
                continue  # the sample's deliberately truncated copy
            slots = 0
            for p in root.iter("p"):
                if p.text and p.text.strip():
                    self.paper_pool.extend(_sentences(p.text))
                    p.text, slots = f"@@P{slots}@@", slots + 1
                for child in p:
                    if child.tail and len(child.tail.split()) > 3:
                        self.paper_pool.extend(_sentences(child.tail))
                        child.tail, slots = f" @@P{slots}@@", slots + 1
            for aid in root.iter("article-id"):
                if aid.get("pub-id-type") == "doi":
                    aid.text = "@@DOI@@"
                    aid.tail = "@@EXTRA_IDS@@" + (aid.tail or "")
                    break
            text = '<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="unicode")
            self.papers.append(_MARK.split(text))
        # Guidelines (CDC MMWR text) and replay: sentence pools; Spanish from the sample's Spanish CDC pages.
        cdc = _sample_rows("cdc")
        self.guideline_pool = [s for r in cdc if r["content_type"] == "text" for s in _sentences(r["content"].decode())]
        self.spanish_pool = [s for r in cdc if r["content_type"] == "html" and "ensp" in r["url"]
                             for p in lhtml.fromstring(r["content"]).iter("p") for s in _sentences(p.text_content())]
        from schemas.jsonl import read_jsonl

        replay = read_jsonl(_sample_rows("replay")[0]["content"])
        self.replay_pool = [s for item in replay for para in item["text"].split("\n\n") for s in _sentences(para)]
        self.replay_titles = [item["title"] for item in replay]


def _perturb(sentences: list[str], rng: random.Random) -> list[str]:
    """A near duplicate: one sentence left out (when there are many), a few pairs of adjacent words swapped."""
    out = list(sentences)
    if len(out) > 6:
        del out[rng.randrange(len(out))]
    for _ in range(max(1, sum(len(s.split()) for s in out) // 150)):
        i = rng.randrange(len(out))
        words = out[i].split()
        if len(words) > 3:
            j = rng.randrange(len(words) - 1)
            words[j], words[j + 1] = words[j + 1], words[j]
            out[i] = " ".join(words)
    return out


class _Variants:
    """Per kind: a fresh document, a near duplicate of an earlier one, or an exact copy of an earlier one."""

    def __init__(self, rng: random.Random):
        self.rng, self.seen = rng, []

    def next(self, fresh, kinds: dict[str, int]):
        r = self.rng.random()
        if self.seen and r < EXACT:
            kinds["exact"] += 1
            return self.seen[self.rng.randrange(len(self.seen))]
        if self.seen and r < EXACT + NEAR:
            kinds["near"] += 1
            template, parts = self.seen[self.rng.randrange(len(self.seen))]
            return template, [_perturb(part, self.rng) for part in parts]
        kinds["fresh"] += 1
        value = fresh()
        self.seen.append(value)
        return value


def _parts(records: list) -> list[list]:
    """Records cut into parts as the scrapers' raw-store writer cuts them: RECORDS_PER_PART records or
    PART_BYTES of content, whichever comes first."""
    parts, current, size = [], [], 0
    for record in records:
        current.append(record)
        size += len(record.content)
        if len(current) >= RECORDS_PER_PART or size >= PART_BYTES:
            parts.append(current)
            current, size = [], 0
    return parts + ([current] if current else [])


def generate_raw_store(n_docs: int, out_dir: str | Path, seed: int = 0, templates: Templates | None = None) -> dict:
    """Write a raw store of about `n_docs` documents to out_dir/<source>/part-NNNNNN.parquet (deterministic)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from schemas.raw import RAW_SCHEMA, RawRecord

    t = templates or Templates()
    rng = random.Random(seed)
    counts = {k: round(n_docs * v) for k, v in MIX.items()}
    kinds = {"fresh": 0, "near": 0, "exact": 0}
    records: dict[str, list] = {"pubmed": [], "pmc": [], "replay": [], "cdc": []}

    def esc(sentences: list[str]) -> str:
        return html.escape(" ".join(sentences), quote=False)

    def draw(pool: list[str], k: int) -> list[str]:
        return [pool[rng.randrange(len(pool))] for _ in range(k)]

    # MEDLINE abstracts, in bulk files of CITATIONS_PER_FILE with a file sequence number (as the bulk fetcher stores them).
    var = _Variants(rng)
    pmids, citations = [], []
    for i in range(counts["abstract"]):
        def fresh():
            ti = rng.randrange(len(t.citations))
            return ti, [draw(t.abstract_pool, rng.randint(2, 4)) for _ in range(t.citations[ti][1])]
        ti, parts = var.next(fresh, kinds)
        pmids.append(str(40_000_000 + i))
        abstract = "".join(f"<AbstractText>{esc(p)}</AbstractText>" for p in parts)
        citations.append(t.citations[ti][0].replace("@@PMID@@", pmids[-1]).replace("@@ABSTRACT@@", abstract))
    for f in range(0, len(citations), CITATIONS_PER_FILE):
        seq = f // CITATIONS_PER_FILE + 1
        body = t.medline_head + "\n".join(citations[f:f + CITATIONS_PER_FILE]) + "\n</MedlineCitationSet>\n"
        name = f"benchn{seq:04d}.xml.gz"
        records["pubmed"].append(RawRecord.make(
            source="pubmed", url=f"https://ftp.ncbi.nlm.nih.gov/pubmed/baseline/{name}", fetched_at=FETCHED_AT,
            content_type="pubmed-xml", content=gzip.compress(body.encode("utf-8"), compresslevel=1, mtime=0),
            license="NLM terms (MEDLINE)", meta={"file": name, "file_seq": seq}))

    # JATS papers, one record each; every third names an abstract's PMID (that abstract then drops as `fulltext`).
    var = _Variants(rng)
    for i in range(counts["paper"]):
        def fresh():
            ti = rng.randrange(len(t.papers))
            slots = sum(1 for name in t.papers[ti][1::2] if name.startswith("P"))
            return ti, [draw(t.paper_pool, rng.randint(1, 4)) for _ in range(slots)]
        ti, paras = var.next(fresh, kinds)
        extra = f'<article-id pub-id-type="pmid">{pmids[3 * i]}</article-id>' if i % 3 == 0 and 3 * i < len(pmids) else ""
        values = {"DOI": f"10.5555/gap.bench.{i}", "EXTRA_IDS": extra}
        out, slot = [], 0
        for j, piece in enumerate(t.papers[ti]):
            if j % 2 == 0:
                out.append(piece)
            elif piece.startswith("P"):
                out.append(esc(paras[slot]))
                slot += 1
            else:
                out.append(values[piece])
        records["pmc"].append(RawRecord.make(
            source="pmc", url=f"https://bench.example.org/paper/{i}", fetched_at=FETCHED_AT, content_type="jats",
            content="".join(out).encode("utf-8"), license="CC BY 4.0", meta={"file": f"bench-{i}.xml"}))

    # Replay: JSON-lines files; every ninth document is Spanish (the language filter drops those).
    var = _Variants(rng)
    items = []
    for i in range(counts["replay"] + counts["spanish"]):
        spanish = i % 9 == 8 and counts["spanish"] > 0
        pool = t.spanish_pool if spanish else t.replay_pool

        def fresh():
            return 0, [draw(pool, rng.randint(3, 6)) for _ in range(rng.randint(2, 5))]
        if spanish:
            kinds["fresh"] += 1
            _, paras = fresh()
        else:
            _, paras = var.next(fresh, kinds)
        items.append(json.dumps({"id": f"bench-replay-{i}", "title": t.replay_titles[i % len(t.replay_titles)],
                                 "text": "\n\n".join(" ".join(p) for p in paras)}, ensure_ascii=False))
    for f in range(0, len(items), REPLAY_PER_FILE):
        records["replay"].append(RawRecord.make(
            source="replay", url=f"gap-bench://replay-{f // REPLAY_PER_FILE:04d}.jsonl", fetched_at=FETCHED_AT,
            content_type="json", content=("\n".join(items[f:f + REPLAY_PER_FILE]) + "\n").encode("utf-8"),
            license="Apache-2.0"))

    # Guidelines: CDC-style plain-text reports, one record each.
    var = _Variants(rng)
    for i in range(counts["guideline"]):
        _, paras = var.next(lambda: (0, [draw(t.guideline_pool, rng.randint(3, 6)) for _ in range(rng.randint(4, 12))]),
                            kinds)
        records["cdc"].append(RawRecord.make(
            source="cdc", url=f"https://www.cdc.gov/bench/{i}.htm", fetched_at=FETCHED_AT, content_type="text",
            content="\n\n".join(" ".join(p) for p in paras).encode("utf-8"), license="Public Domain (US Government)"))

    out = Path(out_dir)
    raw_bytes = 0
    for source, recs in records.items():
        (out / source).mkdir(parents=True, exist_ok=True)
        for n, chunk in enumerate(_parts(recs)):
            raw_bytes += sum(len(r.content) for r in chunk)
            table = pa.Table.from_pylist([r.to_row() for r in chunk], schema=RAW_SCHEMA)
            pq.write_table(table, out / source / f"part-{n:06d}.parquet", compression="zstd")
    return {"docs": sum(counts.values()), "records": sum(len(v) for v in records.values()), "raw_bytes": raw_bytes,
            "parts": sum(1 for _ in out.rglob("*.parquet")),
            "parquet_bytes": sum(p.stat().st_size for p in out.rglob("*.parquet")), **kinds}


# --------------------------------------------------------------------------------------- one build, in a child

def _child(raw: str, out: str, workers: int) -> None:
    """Run one `gap build` of `raw` (sample config otherwise) and print a JSON summary as the last line."""
    import resource

    import apache_beam as beam

    from gap_pipeline.build import run_build, sample_config_path
    from gap_pipeline.config import load_config

    cfg = load_config(sample_config_path(), overrides={"input": raw})
    runs = []  # (pipeline, result) of every phase
    run = beam.Pipeline.run

    def keep_result(self, *args, **kwargs):  # run_build does not return the PipelineResults; their metrics are wanted
        result = run(self, *args, **kwargs)
        runs.append((self, result))
        return result

    beam.Pipeline.run = keep_result
    cpu_before = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    started = time.perf_counter()
    manifest = run_build(cfg, out, workers=workers)
    wall = time.perf_counter() - started
    msecs: dict[str, float] = defaultdict(float)
    shuffled = {"keys": 0, "tokens": 0, "combined": 0}
    runs_written = {"bytes": 0, "records": 0}  # the local runner's shuffles: bytes written to sorted runs
    runs_by_phase: dict[str, int] = {}
    from apache_beam.metrics.metric import MetricsFilter
    from gap_pipeline.pipeline import PHASES
    from transforms.exchange import METRICS
    for phase, (_pipeline, result) in zip(PHASES, runs):
        for counter in result.metrics().query(MetricsFilter().with_namespace(METRICS))["counters"]:
            value = int(counter.committed if counter.committed is not None else counter.attempted or 0)
            runs_written[counter.key.metric.name] = runs_written.get(counter.key.metric.name, 0) + value
            if counter.key.metric.name == "bytes":
                runs_by_phase[phase] = runs_by_phase.get(phase, 0) + value
    for pipeline_obj, result in runs:
        try:
            for counter in result.monitoring_metrics().query()["counters"]:
                if counter.key.metric.name == EXEC_TIME:
                    msecs[counter.key.step.split("/")[0] or "?"] += float(counter.committed or counter.attempted or 0)
        except (AttributeError, NotImplementedError, IndexError):
            pass
        for kind, size in shuffle_bytes(pipeline_obj, result).items():
            shuffled[kind] += size
    sources = manifest["sources"].values()
    print(json.dumps({
        "wall": wall, "accounting": manifest["accounting"], "stages": manifest.get("stages", {}),
        "chars": sum(s["chars_extracted"] for s in sources),
        "tokens": sum(s["tokens"]["train"] + s["tokens"]["validation"] for s in sources),
        "rss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_worker_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "cpu_main_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu_before,
        "cpu_workers_s": sum(resource.getrusage(resource.RUSAGE_CHILDREN)[:2]),
        "msecs": dict(msecs), "shuffled": shuffled, "runs": runs_written, "runs_by_phase": runs_by_phase}))


def shuffle_bytes(pipeline_obj, result) -> dict[str, int]:
    """Bytes that went into the pipeline's shuffles, from Beam's own per-PCollection metrics: the
    sampled mean encoded size times the element count of every GroupByKey input (CoGroupByKey and
    Reshuffle expand to one) and every CombinePerKey input (before combiner lifting: an upper bound).
    Split into `tokens` (the tokens phase's routing: `WriteShards/GroupShard`, one (split, shard) -> (part,
    start, count) range record per part feeding a shard, and `SpreadParts`, the part numbers spread over
    the workers; token ids themselves travel through per-part row files and never cross a shuffle), `keys`
    (every other GroupByKey: dedup keys, reshuffled part lists) and `combined` (CombinePerKey inputs: line
    counts, sketches' best-per-bucket, the tokenizer sample, the mixture plan's per-(part, group) records,
    statistics — what crosses the shuffle is their per-bundle accumulators, so this is an upper bound)."""
    from apache_beam.metrics import monitoring_infos as mis
    try:
        infos = list(result.monitoring_infos())
    except (AttributeError, NotImplementedError):
        return {}
    counts: dict[str, int] = defaultdict(int)
    sizes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for info in infos:
        pcoll = info.labels.get("PCOLLECTION")
        if not pcoll:
            continue
        if info.urn == mis.ELEMENT_COUNT_URN:
            counts[pcoll] += int(mis.extract_counter_value(info))
        elif info.urn == mis.SAMPLED_BYTE_SIZE_URN:
            n, total, _lo, _hi = mis.extract_distribution(info)
            sizes[pcoll][0] += n
            sizes[pcoll][1] += total
    proto = pipeline_obj.to_runner_api()
    out = {"keys": 0, "tokens": 0, "combined": 0}
    shuffles = ("beam:transform:group_by_key:v1", "beam:transform:combine_per_key:v1")
    for transform in proto.components.transforms.values():
        if transform.spec.urn not in shuffles:
            continue
        inside_combine = any(t.spec.urn == "beam:transform:combine_per_key:v1" and transform.unique_name.startswith(
            t.unique_name + "/") for t in proto.components.transforms.values())
        if inside_combine:
            continue
        for pcoll in transform.inputs.values():
            n, total = sizes.get(pcoll, (0, 0))
            if n:
                if transform.spec.urn == "beam:transform:combine_per_key:v1":
                    kind = "combined"
                elif transform.unique_name.startswith(("WriteShards/", "SpreadParts/")):
                    kind = "tokens"  # range records and part numbers: what of the token rows crosses a shuffle
                else:
                    kind = "keys"
                out[kind] += int(total / n * counts.get(pcoll, 0))
    return out


def tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants (kB), from /proc."""
    return sum(tree_rss_by_pid(pid).values())


def tree_rss_by_pid(pid: int) -> dict[int, int]:
    """Resident memory (kB) of a process and each of its descendants, from /proc."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    children[int(fh.read().rsplit(")", 1)[1].split()[1])].append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    out, todo = {}, [pid]
    while todo:
        current = todo.pop()
        try:
            with open(f"/proc/{current}/status") as fh:
                out[current] = next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
        except OSError:
            pass
        todo += children.get(current, [])
    return out


def run_sampled(args: list[str], cwd: str | Path, env: dict, what: str) -> dict:
    """Run a child that prints a JSON summary as its last line; the summary, with the whole process tree's
    peak memory (`rss_tree_mb`, the child and its workers summed, sampled every 0.2 s from /proc)."""
    proc = subprocess.Popen(args, cwd=str(cwd), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = largest = 0
    while proc.poll() is None:
        sizes = tree_rss_by_pid(proc.pid)
        peak = max(peak, sum(sizes.values()))
        largest = max([largest, *sizes.values()])
        time.sleep(0.2)
    stdout, stderr = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{stderr[-4000:]}")
    result = json.loads(stdout.strip().split("\n")[-1])
    result["rss_tree_mb"] = peak / 1024
    result["rss_largest_mb"] = largest / 1024
    return result


def build_in_child(raw: str, workers: int, code_root: str | Path = REPO) -> dict:
    """Build `raw` in a fresh process with the code under `code_root` (the repository, or an older checkout)."""
    env = dict(os.environ, PYTHONPATH=str(code_root))
    with tempfile.TemporaryDirectory() as out:
        return run_sampled([sys.executable, str(Path(__file__).resolve()), "--child", raw, out, str(workers)],
                           code_root, env, f"build of {raw}")


# --------------------------------------------------------------------------------------- report

def _sample_section(quick: bool) -> list[str]:
    from gap_pipeline.build import run_build, sample_config_path
    from gap_pipeline.config import load_config

    cfg = load_config(sample_config_path())
    repeats = 1  # the scale runs below are the throughput numbers; this keeps the full bench within ~6 minutes
    rows = []
    manifest = None
    # FnApiRunner with 1 and 2 workers, and the portable Job API that Flink and Spark job servers speak
    # (Beam's in-process job server, LOOPBACK workers): its overhead over the direct runner.
    settings = [("FnApiRunner, 1 worker", 1, []), ("FnApiRunner, 2 workers", 2, []),
                ("PortableRunner (in-process job server), 1 worker", None,
                 ["--runner=PortableRunner", "--job_endpoint=embed", "--environment_type=LOOPBACK"])]
    for label, workers, beam_args in settings[:1] if quick else settings:  # quick: scale runs cover 2 workers
        times = []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as out:
                started = time.perf_counter()
                manifest = run_build(cfg, out, workers=workers, beam_args=beam_args)
                times.append(time.perf_counter() - started)
        rows.append((label, statistics.median(times)))
    acc = manifest["accounting"]
    raw_bytes = sum(s["chars_extracted"] for s in manifest["sources"].values())
    tokens = sum(s["tokens"]["train"] + s["tokens"]["validation"] for s in manifest["sources"].values())
    lines = [
        "## Pipeline (end to end)",
        "",
        "### Embedded sample",
        "",
        f"`gap build` of the sample corpus: {acc['raw_records']['in']} raw records, "
        f"{acc['documents']['extracted']} documents extracted, {acc['documents']['kept']} kept, "
        f"{tokens:,} tokens before mixing; every stage including tokenizer training. "
        f"Median of {repeats} run(s) per setting, measured one after the other in this run.",
        "",
        "| runner | wall time (s) | documents/s | extracted MB/s | tokens/s |",
        "|---|---|---|---|---|",
    ]
    for label, seconds in rows:
        lines.append(f"| {label} | {seconds:.1f} | {acc['documents']['extracted'] / seconds:.1f} | "
                     f"{raw_bytes / seconds / 1e6:.2f} | {tokens / seconds:,.0f} |")
    lines += ["", "A sample this small is dominated by fixed costs (pipeline start-up, tokenizer training, "
              "worker start-up); the scale runs below show the throughput once they are amortised.", ""]
    return lines


# Full run: 10k, 50k and 100k documents with 1 and 2 workers (about an hour on 2 cores);
# GAP_BENCH_SCALE_SIZES=10000,100000 narrows it.
SCALE_SIZES = tuple(int(n) for n in os.environ.get("GAP_BENCH_SCALE_SIZES", "10000,50000,100000").split(","))
QUICK_SIZES = (800,)
# 2-worker builds for sizes up to this many documents (default: all); GAP_BENCH_TWO_WORKERS_UP_TO=10000 saves time.
TWO_WORKERS_UP_TO = int(os.environ.get("GAP_BENCH_TWO_WORKERS_UP_TO", "1000000000"))
GAP_DOCS, GAP_TOKENS = 21_700_000, 48_000_000_000  # MEDITRON's GAP-Replay


def _scale_section(quick: bool) -> list[str]:
    sizes = QUICK_SIZES if quick else SCALE_SIZES
    templates = Templates()
    load = os.getloadavg()[0]
    runs = []  # (n, generator info, generation seconds, {workers: child result})
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            raw = os.path.join(tmp, f"raw-{n}")
            started = time.perf_counter()
            info = generate_raw_store(n, raw, seed=n, templates=templates)
            gen_s = time.perf_counter() - started
            results = {w: build_in_child(raw, w) for w in (1, 2) if w == 1 or n <= TWO_WORKERS_UP_TO}
            runs.append((n, info, gen_s, results))
            shutil.rmtree(raw, ignore_errors=True)
    lines = [
        "### Scale: generated raw stores",
        "",
        "Raw stores of N documents generated from the sample's own records (module docstring of "
        "`benchmarks/bench_pipeline.py`: real MEDLINE/JATS/replay/CDC markup, sentences re-drawn with a seeded RNG, "
        f"~{NEAR:.0%} near and ~{EXACT:.0%} exact duplicates, ~{MIX['spanish']:.0%} Spanish). Mix by documents: "
        + ", ".join(f"{k} {v:.0%}" for k, v in MIX.items()) + "; by characters papers dominate. Sample config "
        "otherwise (vocab 4,000, seq_len 256, tokenizer trained in the build, decontamination on). Each build runs in "
        "a fresh process, all four phases; 1 and 2 workers one after the other. MB/s counts extracted characters, "
        "tokens/s tokens before mixing. Peak RSS, whole build: the build process and every worker process, "
        "summed, sampled every 0.2 s from /proc; largest process: the largest single process in those samples "
        "(not getrusage: on Linux a child's ru_maxrss starts at its parent's size at fork time, and this "
        "benchmark's own process holds the generated raw store). Shuffled: what the local runner's shuffles wrote to sorted run "
        "files (transforms/exchange.py: keys, bucket entries, drops, statistics, the tokens phase's range "
        "records; texts and token rows never shuffle), per extracted document, counted by the writers. "
        f"1-minute load average before the runs: {load:.2f}.",
        "",
        "| N docs | raw MB | parts | workers | wall (s) | documents/s | extracted MB/s | tokens/s | "
        "peak RSS, whole build (MB) | peak RSS, largest process (MB) | shuffled per doc (bytes) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, info, gen_s, results in runs:
        for w, r in results.items():
            docs = r["accounting"]["documents"]["extracted"]
            lines.append(f"| {n:,} | {info['raw_bytes'] / 1e6:.1f} | {info['parts']} | {w} | {r['wall']:.1f} | "
                         f"{docs / r['wall']:.0f} | {r['chars'] / r['wall'] / 1e6:.2f} | "
                         f"{r['tokens'] / r['wall']:,.0f} | {r['rss_tree_mb']:,.0f} | "
                         f"{r['rss_largest_mb']:,.0f} | {r['runs']['bytes'] / docs:,.0f} |")
    last = runs[-1][3][1]
    lines += ["", f"Shuffled bytes per document by phase at N = {runs[-1][0]:,}, 1 worker: " + ", ".join(
        f"{phase} {b / last['accounting']['documents']['extracted']:,.0f}" for phase, b in last["runs_by_phase"].items())
        + "."]
    lines += [""] + _scale_notes(runs)
    n, _, _, results = runs[-1]
    one = results[1]
    ranked = sorted(((k, v) for k, v in one["msecs"].items() if v), key=lambda kv: -kv[1])[:10]
    lines += ["", f"Where the time goes at N = {n:,}, 1 worker: Beam's own per-transform execution time "
              "(`ptransform_execution_time:total_msecs`, sampled by the SDK harness), per top-level step of the "
              "four phases; wall minus their sum is the runner's own work, phase start-up and the manifest.", "",
              "| step | s | share of wall |", "|---|---|---|"]
    for step, ms in ranked:
        lines.append(f"| {step} | {ms / 1000:.1f} | {ms / 1000 / one['wall']:.0%} |")
    inside = sum(one["msecs"].values()) / 1000
    lines.append(f"| runner, start-up, manifest (wall − all steps) | {one['wall'] - inside:.1f} | "
                 f"{(one['wall'] - inside) / one['wall']:.0%} |")
    return lines


def _scale_notes(runs: list) -> list[str]:
    """Ratios and the GAP-Replay projection, computed from this run's numbers (so the text cannot go stale)."""
    notes = []
    (n1, _, _, first), (n2, _, _, last) = runs[0], runs[-1]
    for w in (1, 2):
        if w not in first or w not in last:
            continue
        a, b = first[w], last[w]
        da, db = a["accounting"]["documents"]["extracted"], b["accounting"]["documents"]["extracted"]
        ratio = b["rss_tree_mb"] / a["rss_tree_mb"]
        notes.append(f"- {w} worker{'s' if w > 1 else ''}: peak RSS at N = {n2:,} is {ratio:.2f}x "
                     f"the peak at N = {n1:,} ({a['rss_tree_mb']:,.0f} -> {b['rss_tree_mb']:,.0f} MB, for "
                     f"{n2 / n1:.0f}x the documents; target <= 1.3x and <= 3 GB: "
                     f"{'met' if ratio <= 1.3 and b['rss_tree_mb'] <= 3072 else 'NOT met'}); documents/s "
                     f"{da / a['wall']:.0f} -> {db / b['wall']:.0f} ({(db / b['wall']) / (da / a['wall']):.2f}x).")
    a, b = first[1], last[1]
    flat = b["rss_tree_mb"] / a["rss_tree_mb"] <= 1.3
    notes.append(("- " if flat else "- Although the target is not met here: ") +
                 "nothing the build holds is meant to grow with the corpus on the local runner: texts live in "
                 "per-part files, token rows in per-part row files, and every shuffle of the four phases goes "
                 "through sorted run files (8 MB spills, merged per partition).")
    one = last[1]
    docs = one["accounting"]["documents"]["extracted"]
    shuffled_per_doc = one["runs"]["bytes"] / docs
    tokens = max(1, one["tokens"])
    rate = docs / one["wall"]
    tok_rate = tokens / one["wall"]
    hours_docs = GAP_DOCS / rate / 3600
    hours_tokens = GAP_TOKENS / tok_rate / 3600
    shuffle_gb = shuffled_per_doc * GAP_DOCS / 1e9
    largest = one["rss_largest_mb"]
    notes += [
        "",
        "Projection to MEDITRON's GAP-Replay (21.7M documents, 48B tokens) on Dataflow, from the 1-worker run at "
        f"N = {n2:,} (one worker process on one core of this machine; a Dataflow vCPU is taken as equal):",
        f"- Worker time: documents bound it at {GAP_DOCS:,} / {rate:.0f} documents/s = {hours_docs:,.0f} vCPU-hours; "
        f"tokens bound it at {GAP_TOKENS:,} / {tok_rate:,.0f} tokens/s = {hours_tokens:,.0f} vCPU-hours (GAP-Replay's "
        "papers are far longer than the generated mix, so the token bound is the realistic one): "
        f"≈ {max(hours_docs, hours_tokens) / 100:,.0f} hours on 100 vCPUs.",
        f"- Shuffle: {shuffled_per_doc:,.0f} bytes per document × {GAP_DOCS:,} ≈ {shuffle_gb:,.0f} GB of keys, "
        "entries, drops and range records (Dataflow Shuffle carries the same records; locally they are sorted "
        "run files on disk). Token rows cross no shuffle: they are written twice to per-part files (packed, "
        f"then routed), ≈ {2 * 2 * GAP_TOKENS / 1e9:,.0f} GB at 2 bytes per token (4 above 65,535 ids), and read once into the "
        "shards.",
        f"- Peak memory per worker: {largest:,.0f} MB for the largest process here, the same at every N above; "
        "on Dataflow add the worker harness. It is set by configuration (DESIGN.md, 'What bounds each step'): "
        "a raw part's row group (the raw store's part size), a part file's row group (256 documents), one "
        "document's extraction, a shard of `shards.target_bytes`, the tokenizer sample of "
        "`tokenizer.train_max_chars` characters, one 8 MB spill buffer per shuffle writer.",
        "- Largest single group: a shard's range records (one per part feeding it) and its rows, "
        "`shards.target_bytes` (64 MB with default.yaml) in the writer; among key groups, one near-duplicate "
        "bucket's members (the size of the largest cluster of near-identical documents) and the versions of "
        "one page or citation.",
    ]
    return notes


def bench(quick: bool = False) -> str:
    return "\n".join(_sample_section(quick) + _scale_section(quick))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        sys.path.insert(0, os.environ.get("PYTHONPATH") or str(REPO))
        _child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        print(bench(quick="--quick" in sys.argv))
