"""Run a corpus build: check inputs, run the Beam pipeline, assemble and write the manifest."""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions, TestOptions

from gap_pipeline import pipeline
from gap_pipeline.config import ConfigError, config_hash
from gap_pipeline.manifest import assemble_manifest
from gap_pipeline.outputs import encode_json, write_bytes

log = logging.getLogger(__name__)

OUTPUT_DIRS = ("train", "validation", "documents", "dropped", "quarantine", "_build")
OUTPUT_FILES = ("manifest.json", "tokenizer.model", "tokenizer.json")


class BuildError(RuntimeError):
    """A build cannot start (missing input, unreadable raw-store part, bad spec) — the message says why."""


def sample_dir() -> str:
    return str(resources.files("gap_pipeline").joinpath("sample"))


def sample_config_path() -> str:
    return str(Path(sample_dir()) / "config.yaml")


def resolve_input(cfg: dict[str, Any]) -> str:
    return str(Path(sample_dir()) / "raw") if cfg["input"] == "sample" else cfg["input"]


def list_raw_parts(root: str) -> list[str]:
    """Every Parquet part under the raw store, each checked readable with the raw-record columns."""
    import pyarrow.parquet as pq

    from schemas.raw import RawRecordError, validate_raw_table

    if "://" not in root and not os.path.isdir(root):
        raise BuildError(f"input raw store not found: {root}")
    pattern = FileSystems.join(root, "**.parquet") if "://" in root else None
    if pattern:
        try:
            found = [m.path for m in FileSystems.match([pattern])[0].metadata_list]
        except Exception as exc:  # no filesystem for the scheme, credentials, network: say which path
            raise BuildError(f"input raw store {root} cannot be listed: {exc}") from exc
    else:
        found = [str(p) for p in Path(root).rglob("*.parquet")]
    # Hidden and underscore names are temp files and caches (e.g. _bulk/), never parts.
    parts = sorted(p for p in found if not os.path.basename(p).startswith((".", "_")))
    if not parts:
        raise BuildError(f"input raw store {root} holds no Parquet parts")
    for part in parts:
        try:
            with FileSystems.open(part) as fh:
                schema = pq.ParquetFile(fh).schema_arrow
        except Exception as exc:  # pyarrow raises several types for a damaged footer
            raise BuildError(f"raw store part {part} is unreadable: {exc}") from exc
        try:
            validate_raw_table(schema)
        except RawRecordError as exc:
            raise BuildError(f"raw store part {part}: {exc}") from exc
    return parts


def load_sources(cfg: dict[str, Any]) -> dict[str, pipeline.SourceRules]:
    from scrapers.specs import load_specs

    specs = load_specs()
    selected = cfg["sources"] or sorted(specs)
    unknown = [s for s in selected if s not in specs]
    if unknown:
        raise ConfigError(f"sources: no spec named {', '.join(unknown)} (known: {', '.join(sorted(specs))})")
    return {
        name: pipeline.SourceRules(
            subset=spec["subset"], priority=int(spec.get("priority", 100)), license=spec.get("license", "unknown"),
            redistributable=bool(spec.get("redistributable", False)), publisher=spec.get("publisher", name),
            rules={"content": spec.get("content", {}), "cleaning": spec.get("cleaning", {}), "id": name})
        for name, spec in specs.items() if name in selected
    }


def beam_options(extra_args: list[str], workers: int | None) -> PipelineOptions:
    args = list(extra_args)
    if not any(a == "--runner" or a.startswith("--runner=") for a in args):
        # Beam 2.77's DirectRunner first tries to download Prism, which fails offline.
        args.append("--runner=FnApiRunner")
    if workers and workers > 1:
        args += [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]
    return PipelineOptions(args)


def clear_outputs(out_dir: str) -> None:
    """Outputs have fixed names; remove a previous build's so no stale shard survives a config change
    (e.g. 8 shards written over a build that had 12). Remote folders go through Beam's FileSystems."""
    if "://" in out_dir:
        patterns = [FileSystems.join(out_dir, name, "*") for name in OUTPUT_DIRS]
        patterns += [FileSystems.join(out_dir, name) for name in OUTPUT_FILES]
        stale = [m.path for result in FileSystems.match(patterns) for m in result.metadata_list]
        if stale:
            FileSystems.delete(stale)
        return
    for name in OUTPUT_DIRS:
        shutil.rmtree(os.path.join(out_dir, name), ignore_errors=True)
    for name in OUTPUT_FILES:
        try:
            os.remove(os.path.join(out_dir, name))
        except FileNotFoundError:
            pass


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


def run_build(cfg: dict[str, Any], out_dir: str, *, beam_args: list[str] | None = None,
              workers: int | None = None) -> dict[str, Any]:
    model_path = cfg["tokenizer"]["model"]
    tokenizer_model = None
    if model_path:
        if not os.path.isfile(model_path):
            raise ConfigError(f"tokenizer.model: file not found: {model_path}")
        tokenizer_model = Path(model_path).read_bytes()
        from transforms.tokenizer import TokenizerError, load_encoder
        try:  # a bad file or BOS/EOS name fails here, in one line, not in a worker
            load_encoder(tokenizer_model, bos_token=cfg["tokenizer"]["bos_token"], eos_token=cfg["tokenizer"]["eos_token"])
        except TokenizerError as exc:
            raise ConfigError(f"tokenizer.model: {model_path}: {exc}") from exc
    for path in cfg["decontamination"]["benchmarks"]:
        if not os.path.isfile(path):
            raise ConfigError(f"decontamination.benchmarks: file not found: {path}")
    options = beam_options(beam_args or [], workers)
    # Remote paths are listed here, before the pipeline runs, with the same filesystem options the
    # workers get (Beam's S3 filesystem has no client until it is given options, e.g. --s3_endpoint_url).
    FileSystems.set_options(options)
    parts = list_raw_parts(resolve_input(cfg))
    sources = load_sources(cfg)

    dry_run = options.view_as(TestOptions).dry_run   # translated only (e.g. for Dataflow): nothing is written
    if not dry_run:
        clear_outputs(out_dir)
    started = time.time()
    p = beam.Pipeline(options=options)
    pipeline.build(p, cfg, parts=parts, out_dir=out_dir, sources=sources, tokenizer_model=tokenizer_model)
    result = p.run()
    result.wait_until_finish()
    elapsed = time.time() - started
    if dry_run:
        return {"dry_run": True, "job": getattr(getattr(result, "job", None), "proto", None)}
    info = {name: {"subset": s.subset, "priority": s.priority, "license": s.license, "publisher": s.publisher,
                   "redistributable": s.redistributable} for name, s in sources.items()}
    manifest = assemble_manifest(out_dir, cfg, config_hash=config_hash(cfg), sources_info=info,
                                 extra={"counters": stage_counters(result)})
    write_bytes(FileSystems.join(out_dir, "manifest.json"), encode_json(manifest))
    log.info("built %s in %.1fs: %s", out_dir, elapsed, json.dumps(manifest["accounting"]))
    return manifest
