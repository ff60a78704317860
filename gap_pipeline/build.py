"""Run a corpus build: check inputs, run the Beam pipeline, assemble and write the manifest."""
from __future__ import annotations

import json
import logging
import os
import re
import shlex
import shutil
import sys
import time
from importlib import resources
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, TestOptions

from gap_pipeline import pipeline
from gap_pipeline.config import ConfigError, CorpusConfig, config_hash
from gap_pipeline.manifest import assemble_manifest
from gap_pipeline.outputs import encode_json, write_bytes

log = logging.getLogger(__name__)



class BuildError(RuntimeError):
    """A build cannot start (missing input, unreadable raw-store part, bad spec) — the message says why."""


def sample_dir() -> str:
    return str(resources.files("gap_pipeline").joinpath("sample"))


def sample_config_path() -> str:
    return str(Path(sample_dir()) / "config.yaml")


def resolve_input(cfg: CorpusConfig) -> str:
    return str(Path(sample_dir()) / "raw") if cfg.input == "sample" else cfg.input


def list_raw_parts(root: str) -> list[str]:
    """Every Parquet part under the raw store, each checked readable with the raw-record columns."""
    from schemas.raw_store import RawStoreError, list_parts
    try:
        return list_parts(root, check=True)
    except RawStoreError as exc:
        raise BuildError(f"input {exc}") from exc


def load_sources(cfg: CorpusConfig) -> dict[str, pipeline.SourceRules]:
    from scrapers.specs import SpecError, load_corpus_specs
    from transforms.extract.html import content_selector_problem

    try:  # shipped specs plus the corpus's own (config specs_dir / --specs-dir)
        specs = load_corpus_specs(cfg.specs_dir or None)
    except SpecError as exc:
        raise ConfigError(f"specs_dir: {exc}") from exc
    selected = cfg.sources or sorted(specs)
    unknown = [s for s in selected if s not in specs]
    if unknown:
        raise ConfigError(f"sources: no spec named {', '.join(unknown)} (known: {', '.join(sorted(specs))})")
    for name in selected:
        problem = content_selector_problem(specs[name].get("content") or {})
        if problem:
            raise ConfigError(f"source spec {name}: {problem}")
    return {
        name: pipeline.SourceRules(
            subset=spec["subset"], priority=int(spec.get("priority", 100)), license=spec.get("license", "unknown"),
            redistributable=bool(spec.get("redistributable", False)), publisher=spec.get("publisher", name),
            rules={"content": spec.get("content", {}), "cleaning": spec.get("cleaning", {}), "id": name,
                   "quality": spec.get("quality", {})})
        for name, spec in specs.items() if name in selected
    }


def beam_options(extra_args: list[str], workers: int | None) -> PipelineOptions:
    args = list(extra_args)
    default_runner = not any(a == "--runner" or a.startswith("--runner=") for a in args)
    if default_runner:
        # Beam 2.77's DirectRunner first tries to download Prism, which fails offline.
        args.append("--runner=FnApiRunner")
    if workers and workers > 1:
        args.append(f"--direct_num_workers={workers}")
        if not default_runner:  # the default runner gets its worker processes from local_processes_runner
            args.append("--direct_running_mode=multi_processing")
    return PipelineOptions(args)


def local_processes_runner(options: PipelineOptions):
    """For the FnApiRunner with several workers and no running mode chosen: the runner running them as
    processes of gap_pipeline.local_worker (Beam's SDK worker, minus its copy of a damaged-file traceback),
    where Beam's multi_processing mode would start its own worker main. None otherwise (Beam's choice)."""
    from apache_beam.options.pipeline_options import DirectOptions, StandardOptions
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner
    from apache_beam.transforms.environments import SubprocessSDKEnvironment

    direct = options.view_as(DirectOptions)
    if (options.view_as(StandardOptions).runner != "FnApiRunner" or (direct.direct_num_workers or 1) <= 1
            or direct.direct_running_mode != "in_memory"):
        return None
    command = f"{shlex.quote(sys.executable)} -m gap_pipeline.local_worker"
    return FnApiRunner(default_environment=SubprocessSDKEnvironment.from_command_string(command_string=command))


LOCAL_RUNNERS = ("FnApiRunner", "DirectRunner", "BundleBasedDirectRunner", "SwitchingDirectRunner")


def local_runner(options: PipelineOptions) -> bool:
    """True when the phase runs in this machine's processes (Beam's local runners)."""
    from apache_beam.options.pipeline_options import StandardOptions
    runner = options.view_as(StandardOptions).runner
    return runner is None or (runner if isinstance(runner, str) else type(runner).__name__) in LOCAL_RUNNERS


def stage_counters(result) -> dict[str, int]:
    """The `stage:reason` Beam counters of the run (committed values), for the manifest."""
    from apache_beam.metrics.metric import MetricsFilter

    counters: dict[str, int] = {}
    try:
        query = result.metrics().query(MetricsFilter().with_namespace("gap"))
    except (NotImplementedError, AttributeError):  # some runners expose no metrics
        return counters
    for counter in query["counters"]:
        name = counter.key.metric.name
        value = counter.committed if counter.committed is not None else counter.attempted
        counters[name] = counters.get(name, 0) + int(value or 0)
    return dict(sorted(counters.items()))


# --------------------------------------------------------------------------- where a build writes
#
#   OUT/                       the published corpus: only ever replaced as a whole, after verification
#   OUT/_build/work/<phase>/   phase files and progress markers of the build in progress
#   OUT/_build/work/<phase>/_COMPLETE.json   written last by a phase: {"build_key": ...}
#   OUT/_build/staging/        the new corpus, laid out like OUT, until it is verified and published
#   OUT/_build/outputs.json    every file the published build wrote (what a later build may replace)

WORK = ("_build", "work")
STAGING = ("_build", "staging")
OWNED_TOP = frozenset({"train", "validation", "documents", "dropped", "quarantine", "_build", "manifest.json",
                       "tokenizer.model", "tokenizer.json", "report"})
BUILD_STATE = "build.json"
SHUFFLE = "shuffle"  # OUT/_build/work/<phase>/shuffle/: a local phase's shuffle runs, removed when it is done


def _exists(path: str) -> bool:
    return FileSystems.exists(path)


def _list_files(folder: str) -> list[str]:
    """Every file under `folder` (recursively), as paths relative to it."""
    if "://" not in folder:
        root = Path(folder)
        if not root.is_dir():
            return []
        return sorted(str(p.relative_to(root)).replace(os.sep, "/") for p in root.rglob("*") if p.is_file())
    found = FileSystems.match([FileSystems.join(folder, "**")])[0].metadata_list
    prefix = folder.rstrip("/") + "/"
    return sorted(m.path[len(prefix):] for m in found if m.path.startswith(prefix) and not m.path.endswith("/"))


def _delete_tree(folder: str) -> None:
    """Remove a folder this build wrote (work or staging area)."""
    if "://" not in folder:
        shutil.rmtree(folder, ignore_errors=True)
        return
    files = _paths_under(folder)
    if files:
        FileSystems.delete(files)


def check_output(out_dir: str, *, force: bool = False) -> None:
    """Refuse an --out that is not ours before any work: a file, an unwritable folder, or a folder with
    things a gap build did not write (unless `force`; even then nothing foreign is ever deleted)."""
    if "://" in out_dir:
        listing = _list_files(out_dir)
        top = sorted({f.split("/", 1)[0] for f in listing})
    else:
        if os.path.exists(out_dir) and not os.path.isdir(out_dir):
            raise BuildError(f"--out {out_dir} is a file, not a folder")
        top = sorted(os.listdir(out_dir)) if os.path.isdir(out_dir) else []
        probe_dir = out_dir
        while not os.path.exists(probe_dir):
            probe_dir = os.path.dirname(os.path.abspath(probe_dir))
        if not os.access(probe_dir, os.W_OK | os.X_OK):
            raise BuildError(f"--out {out_dir}: {probe_dir} is not writable")
    if not top:
        return
    foreign = [name for name in top if name not in OWNED_TOP and not (name == "README.md" and _is_gap_card(out_dir))]
    ours = "manifest.json" in top or _exists(FileSystems.join(out_dir, *WORK, BUILD_STATE))
    if foreign or not ours:
        if force:
            log.warning("--out %s holds files a gap build did not write (%s); building anyway (--force), "
                        "they are left as they are", out_dir, ", ".join(foreign) or "no manifest.json")
            return
        what = f"files a gap build did not write: {', '.join(foreign[:5])}" if foreign else "no gap manifest.json"
        raise BuildError(f"--out {out_dir} is not a gap corpus ({what}); choose an empty or new folder, "
                         f"or pass --force to build there without touching them")


def _is_gap_card(out_dir: str) -> bool:
    """OUT/README.md is the dataset card `gap report` wrote (it carries the card's marker)."""
    from gap_pipeline.outputs import read_bytes
    from gap_pipeline.report import CARD_MARK
    try:
        return CARD_MARK.encode() in read_bytes(FileSystems.join(out_dir, "README.md"))
    except Exception:  # absent or unreadable: not ours
        return False


def build_key(cfg: dict[str, Any], parts: list[str], tokenizer_model: bytes | None,
              sources: dict[str, pipeline.SourceRules]) -> str:
    """What a phase's outputs depend on: the config, the raw parts (path, size), the tokenizer given,
    the source rules. A resumed build reuses a phase only when this is unchanged."""
    import hashlib
    sizes = []
    for part in parts:
        try:
            sizes.append(FileSystems.match([part])[0].metadata_list[0].size_in_bytes)
        except Exception:  # listing failed: never reuse on a guess
            sizes.append(-1)
    blob = json.dumps({"config": config_hash(cfg), "parts": list(zip(parts, sizes)),
                       "tokenizer": hashlib.sha256(tokenizer_model).hexdigest() if tokenizer_model else None,
                       "sources": {k: [v.subset, v.priority, v.license, v.redistributable, v.publisher, v.rules]
                                   for k, v in sorted(sources.items())},
                       "phases": list(pipeline.PHASES)}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _read_json(path: str) -> Any:
    from gap_pipeline.outputs import read_bytes
    try:
        return json.loads(read_bytes(path))
    except Exception:  # absent or unreadable: treated as not there
        return None


def _paths_under(folder: str, prefix: str = "") -> list[str]:
    return [FileSystems.join(folder, f) for f in _list_files(folder) if f.startswith(prefix)]


def damaged_documents(ctx: pipeline.PhaseContext, phase: str) -> list[str]:
    """Why a finished phase's document files cannot be reused (one line per missing, truncated or foreign
    file), reading only their footers: a resumed build reruns such a phase instead of failing in the next."""
    from transforms.docfiles import DocumentFileError, check_document_file
    if phase not in pipeline.DOCUMENT_PHASES:
        return []
    problems = []
    for path in ctx.part_files(ctx.docs_folder(phase)):
        try:
            check_document_file(path)
        except DocumentFileError as exc:
            problems.append(str(exc))
    return problems


class _QuietBeamNoise(logging.Filter):
    """Log lines of Beam's a build user can do nothing with: a failing DoFn's traceback for a damaged
    document file (logged in-process, or relayed from a worker process; the build reports it in one line
    instead, `_damaged_input`), each local worker process's start-up warning about a missing
    semi_persistent_directory (a Dataflow worker setting), and the FnApiRunner's warning that several
    workers want a multi-process running mode, which `local_processes_runner` gives them its own way."""

    LOGGERS = ("apache_beam.runners.common", "apache_beam.runners.portability.local_job_service",
               "apache_beam.runners.portability.fn_api_runner.fn_runner")
    NOISE = ("DocumentFileError", "No semi_persistent_directory found", "If direct_num_workers is not equal to 1")

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        text = f"{type(exc).__name__ if exc else ''} {record.getMessage()}"
        return not any(noise in text for noise in self.NOISE)


_DOCUMENT_FILE_ERROR = re.compile(r"DocumentFileError: (.+?)(?: \[while running [^\n]*)?$", re.MULTILINE)


def _damaged_input(exc: BaseException, ctx: pipeline.PhaseContext, running: str) -> BuildError | None:
    """A phase that failed on a damaged document file of an earlier phase (the runner wraps the worker's
    DocumentFileError): that phase's completion record is removed, so the same command redoes it."""
    match = _DOCUMENT_FILE_ERROR.search(f"{type(exc).__name__}: {exc}")
    if match is None:
        return None
    problem = match.group(1)
    for phase in pipeline.DOCUMENT_PHASES:
        folder = ctx.docs_folder(phase).rstrip("/") + "/"
        if problem.startswith(folder) and phase != running:
            done = FileSystems.join(ctx.work, phase, "_COMPLETE.json")
            if _exists(done):
                FileSystems.delete([done])
            return BuildError(f"phase {running}: {problem}: the {phase} phase is marked unfinished; run the same "
                              "command again to redo it")
    return BuildError(f"phase {running}: {problem}")


def _phase_outputs(ctx: pipeline.PhaseContext, phase: str) -> list[str]:
    """The files a phase writes, so a rerun of the phase removes exactly those first."""
    paths = _paths_under(ctx.folder(phase))
    for folder in ("dropped", "quarantine"):
        paths += _paths_under(FileSystems.join(ctx.out, folder), f"{folder}-{phase}-")
    paths += [FileSystems.join(ctx.out, "_build", f"stats-{phase}.json")]
    if phase == "dedup":
        paths += _paths_under(FileSystems.join(ctx.out, "documents"))
    if phase == "tokens":
        paths += _paths_under(FileSystems.join(ctx.out, "train")) + _paths_under(FileSystems.join(ctx.out, "validation"))
        paths += [FileSystems.join(ctx.out, name) for name in ("tokenizer.model", "tokenizer.json", "_build/shards.json",
                                                             "_build/mixture.json")]
    return [p for p in paths if _exists(p)]


class Progress:
    """Shows where a local build is (phase, parts done, documents, elapsed) on stderr while it runs;
    quiet unless stderr is a terminal or GAP_PROGRESS=1."""

    def __init__(self, ctx: pipeline.PhaseContext, phase: str, index: int, every: float = 5.0):
        import threading
        self._ctx, self._phase, self._index, self._every = ctx, phase, index, every
        self._stop = threading.Event()
        self._started = time.time()
        self._on = sys.stderr.isatty() or os.environ.get("GAP_PROGRESS") == "1"
        self._thread = threading.Thread(target=self._loop, daemon=True) if self._on else None

    def line(self) -> str:
        done = docs = 0
        progress = self._ctx.folder(self._phase, "progress")
        for name in _list_files(progress):
            marker = _read_json(FileSystems.join(progress, name)) or {}
            done += 1
            docs += int(marker.get("docs", 0))
        elapsed = int(time.time() - self._started)
        return (f"[gap build] phase {self._index + 1}/{len(pipeline.PHASES)} {self._phase}: "
                f"{done} part passes done ({docs:,} documents), {elapsed // 60}:{elapsed % 60:02d} elapsed")

    def _loop(self) -> None:
        while not self._stop.wait(self._every):
            print(self.line(), file=sys.stderr, flush=True)

    def __enter__(self):
        if self._on:
            print(f"[gap build] phase {self._index + 1}/{len(pipeline.PHASES)} {self._phase}: started",
                  file=sys.stderr, flush=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            if exc[0] is None:
                print(self.line().replace("elapsed", "elapsed, done"), file=sys.stderr, flush=True)


def _console_link(result) -> None:
    """On Dataflow, say where to watch the job."""
    import sys
    job_id = getattr(result, "job_id", None)
    if callable(job_id):
        try:
            job_id = job_id()
        except Exception:
            job_id = None
    job = getattr(result, "_job", None)
    if job_id and job is not None:
        region = getattr(job, "location", "") or ""
        project = getattr(job, "projectId", "") or ""
        print(f"[gap build] Dataflow job: https://console.cloud.google.com/dataflow/jobs/{region}/{job_id}"
              f"?project={project}", file=sys.stderr, flush=True)


def run_phase(phase: str, ctx: pipeline.PhaseContext, options: PipelineOptions, tokenizer_model: bytes | None):
    p = beam.Pipeline(runner=local_processes_runner(options), options=options)
    pipeline.build_phase(p, phase, ctx, tokenizer_model)
    if local_runner(options):  # the local runner holds shuffles in RAM: sort through files instead
        from transforms.exchange import use_file_shuffles
        use_file_shuffles(p, ctx.folder(phase, SHUFFLE))
    result = p.run()
    _console_link(result)
    result.wait_until_finish()
    return result


def _publish(staging: str, out_dir: str, files: list[str]) -> None:
    """Replace the corpus in OUT by the verified one in staging (`files`, relative, `_build/outputs.json`
    among them): the old manifest goes first (a corpus without a manifest is visibly incomplete), then the
    files the previous build listed as its own and this one does not write, then the new files move in,
    the manifest last. Files a gap build did not write are never touched. Idempotent: rerunning after a
    crash in here moves what is still in staging and deletes nothing the new corpus holds."""
    old = _read_json(FileSystems.join(out_dir, "_build", "outputs.json"))
    old_files = list(old["files"]) if isinstance(old, dict) and isinstance(old.get("files"), list) else _legacy_outputs(out_dir)
    manifest = FileSystems.join(out_dir, "manifest.json")
    if _exists(manifest) and _exists(FileSystems.join(staging, "manifest.json")):
        FileSystems.delete([manifest])
    new = set(files)
    stale = [FileSystems.join(out_dir, f) for f in old_files
             if f not in new and ".." not in f.split("/") and not f.startswith(("_build/work/", "_build/staging/"))]
    if _is_gap_card(out_dir):  # the previous build's dataset card would describe the wrong corpus
        stale.append(FileSystems.join(out_dir, "README.md"))
    stale = [p for p in stale if _exists(p)]
    if stale:
        FileSystems.delete(stale)
    for rel in sorted(new - {"manifest.json"}) + ["manifest.json"]:
        src, dst = FileSystems.join(staging, rel), FileSystems.join(out_dir, rel)
        if not _exists(src):  # moved by an earlier, interrupted publication
            continue
        if "://" not in dst:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.replace(src, dst)
        else:
            FileSystems.rename([src], [dst])
        _test_hook("publish")


def _legacy_outputs(out_dir: str) -> list[str]:
    """The files of a corpus built before outputs.json existed: the fixed names it wrote."""
    import re
    named = re.compile(r"^(train|validation|documents|dropped|quarantine)/[\w.-]+\.(arrow|parquet|jsonl)$")
    files = [f for f in _list_files(out_dir) if named.match(f)]
    return files + ["tokenizer.model", "tokenizer.json", "_build/stats.json", "_build/shards.json", "_build/mixture.json"]


def run_build(cfg: CorpusConfig, out_dir: str, *, beam_args: list[str] | None = None,
              workers: int | None = None, force: bool = False, resume: bool = True) -> dict[str, Any]:
    """Build the corpus into `out_dir` phase by phase (resuming finished phases of an interrupted build
    with the same inputs and config), verify it in staging, then publish it."""
    model_path = cfg.tokenizer.model
    tokenizer_model = None
    if model_path:
        if not os.path.isfile(model_path):
            raise ConfigError(f"tokenizer.model: file not found: {model_path}")
        tokenizer_model = Path(model_path).read_bytes()
        from transforms.tokenizer import TokenizerError, load_encoder
        try:  # a bad file or BOS/EOS name fails here, in one line, not in a worker
            load_encoder(tokenizer_model, bos_token=cfg.tokenizer.bos_token, eos_token=cfg.tokenizer.eos_token)
        except TokenizerError as exc:
            raise ConfigError(f"tokenizer.model: {model_path}: {exc}") from exc
    for path in cfg.decontamination.benchmarks:
        if not os.path.isfile(path):
            raise ConfigError(f"decontamination.benchmarks: file not found: {path}")
    if workers is not None and workers < 1:
        raise ConfigError(f"--workers: must be a positive number of processes, got {workers}")
    options = beam_options(beam_args or [], workers)
    # Remote paths are listed here, before the pipeline runs, with the same filesystem options the
    # workers get (Beam's S3 filesystem has no client until it is given options, e.g. --s3_endpoint_url).
    FileSystems.set_options(options)
    dry_run = options.view_as(TestOptions).dry_run   # translated only (e.g. for Dataflow): nothing is written
    if not dry_run:
        check_output(out_dir, force=force)
    parts = list_raw_parts(resolve_input(cfg))
    sources = load_sources(cfg)
    work = FileSystems.join(out_dir, *WORK)
    staging = FileSystems.join(out_dir, *STAGING)
    ctx = pipeline.PhaseContext(cfg=cfg, sources=sources, parts=tuple(parts), out=staging, work=work)
    if dry_run:
        jobs = [run_phase(phase, ctx, options, tokenizer_model) for phase in pipeline.PHASES]
        return {"dry_run": True, "job": getattr(getattr(jobs[-1], "job", None), "proto", None),
                "jobs": [getattr(getattr(j, "job", None), "proto", None) for j in jobs]}

    key = build_key(cfg, parts, tokenizer_model, sources)
    state_path = FileSystems.join(work, BUILD_STATE)
    state = _read_json(state_path)
    if not resume or not isinstance(state, dict) or state.get("build_key") != key:
        _delete_tree(work)      # another build's (or a discarded) work area: ours to remove
        _delete_tree(staging)
        write_bytes(state_path, encode_json({"build_key": key, "out": out_dir}))
    started = time.time()
    counters: dict[str, int] = {}
    for index, phase in enumerate(pipeline.PHASES):
        done_path = FileSystems.join(work, phase, "_COMPLETE.json")
        done = _read_json(done_path)
        damaged = damaged_documents(ctx, phase) if isinstance(done, dict) and done.get("build_key") == key else []
        if isinstance(done, dict) and done.get("build_key") == key and not damaged:
            log.info("phase %s: finished by an earlier run, reused", phase)
            print(f"[gap build] phase {index + 1}/{len(pipeline.PHASES)} {phase}: finished earlier, reused",
                  file=sys.stderr, flush=True)
            for name, value in (done.get("counters") or {}).items():
                counters[name] = counters.get(name, 0) + int(value)
            continue
        if damaged:
            more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
            print(f"[gap build] phase {index + 1}/{len(pipeline.PHASES)} {phase}: finished earlier, but {damaged[0]}"
                  f"{more}: rerunning the phase", file=sys.stderr, flush=True)
        stale = _phase_outputs(ctx, phase)
        if stale:
            FileSystems.delete(stale)
        quiet = _QuietBeamNoise()
        for name in quiet.LOGGERS:
            logging.getLogger(name).addFilter(quiet)
        try:
            with Progress(ctx, phase, index):
                result = run_phase(phase, ctx, options, tokenizer_model)
        except Exception as exc:
            error = _damaged_input(exc, ctx, phase)
            if error is None:
                raise
            raise error from None
        finally:
            for name in quiet.LOGGERS:
                logging.getLogger(name).removeFilter(quiet)
        _test_hook(phase)
        phase_counters = stage_counters(result)
        for name, value in phase_counters.items():
            counters[name] = counters.get(name, 0) + value
        write_bytes(done_path, encode_json({"build_key": key, "phase": phase, "counters": phase_counters}))
        _delete_tree(ctx.folder(phase, SHUFFLE))
    publishing_path = FileSystems.join(work, "publishing.json")
    publishing = _read_json(publishing_path)
    if isinstance(publishing, dict) and publishing.get("build_key") == key:
        files, manifest = publishing["files"], publishing["manifest"]  # finish an interrupted publication
    else:
        info = {name: {"subset": s.subset, "priority": s.priority, "license": s.license, "publisher": s.publisher,
                       "redistributable": s.redistributable} for name, s in sources.items()}
        manifest = assemble_manifest(staging, cfg, config_hash=config_hash(cfg), sources_info=info,
                                     extra={"counters": dict(sorted(counters.items()))})
        write_bytes(FileSystems.join(staging, "manifest.json"), encode_json(manifest))
        _verify_staging(staging)
        files = sorted(set(_list_files(staging)) | {"_build/outputs.json"})
        write_bytes(FileSystems.join(staging, "_build", "outputs.json"), encode_json({"files": files}))
        write_bytes(publishing_path, encode_json({"build_key": key, "files": files, "manifest": manifest}))
    _publish(staging, out_dir, files)
    _delete_tree(staging)
    _delete_tree(work)
    log.info("built %s in %.1fs: %s", out_dir, time.time() - started, json.dumps(manifest["accounting"]))
    return manifest


def _verify_staging(staging: str) -> None:
    from gap_pipeline.verify import verify_corpus
    problems = verify_corpus(staging)
    if problems:
        raise BuildError(f"the new corpus failed verification, nothing was published ({len(problems)} problems): "
                         + "; ".join(problems[:3]))


def _test_hook(phase: str) -> None:
    """GAP_TEST_DIE_AFTER_PHASE=<phase>: the process dies (SIGKILL) after the phase's pipeline ran and
    before its completion record is written — the worst moment — so tests can check resumption.
    `publish` dies after the first file moved into place."""
    if os.environ.get("GAP_TEST_DIE_AFTER_PHASE") == phase:
        import signal
        os.kill(os.getpid(), signal.SIGKILL)
