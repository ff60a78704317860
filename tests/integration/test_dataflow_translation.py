"""With the `gcp` extra, the whole pipeline translates for Dataflow offline (--dry_run, no credentials)."""
from __future__ import annotations

import json

import apache_beam as beam
import pytest
from apache_beam.options.pipeline_options import PipelineOptions

pytest.importorskip("apache_beam.runners.dataflow.internal.apiclient")
pytest.importorskip("google.cloud.storage")

from gap_pipeline import pipeline  # noqa: E402
from gap_pipeline.build import list_raw_parts, load_sources, resolve_input, sample_config_path  # noqa: E402
from gap_pipeline.config import load_config  # noqa: E402


def test_pipeline_translates_for_dataflow(tmp_path):
    cfg = load_config(sample_config_path())
    options = PipelineOptions([
        "--runner=DataflowRunner", "--project=gap-dry-run", "--region=europe-west1",
        "--temp_location=gs://gap-dry-run/tmp", "--staging_location=gs://gap-dry-run/staging",
        "--dry_run=True", "--no_auth", "--sdk_location=container",
    ])
    ctx = pipeline.PhaseContext(cfg=cfg, sources=load_sources(cfg), parts=tuple(list_raw_parts(resolve_input(cfg))),
                                out="gs://gap-dry-run/corpus/_build/staging", work="gs://gap-dry-run/corpus/_build/work")
    unique_names = []
    for phase in pipeline.PHASES:  # every phase is a plain Beam pipeline: each translates on its own
        p = beam.Pipeline(options=options)
        pipeline.build_phase(p, phase, ctx)
        result = p.run()
        job = result.job.proto
        assert job.name and job.type.name == "JOB_TYPE_BATCH"
        unique_names += [t.unique_name for t in p.runner.proto_pipeline.components.transforms.values()]
    names = " ".join(unique_names)
    for stage in ("ScanRaw", "Extract", "PubmedUpdates", "Filter", "FullText", "ExactDedup", "NearDedup",
                  "Finish", "TrainTokenizer", "Pack", "AllGroups", "Plan", "WriteMixture", "SpreadParts",
                  "RouteParts", "WriteShards/GroupShard", "WriteShardList", "WriteDrops", "WriteQuarantine"):
        assert stage in names, stage
    # The tail's old token shuffles are gone: token rows travel through part files, not a GroupByKey.
    top_level = {name.split("/")[0] for name in unique_names}
    assert not top_level & {"Tokenize", "Mix", "NumberValidation", "WriteTrain", "WriteValidation"}, top_level
    # Workers get the SDK container image, i.e. the job is runnable as translated.
    envs = p.runner.proto_pipeline.components.environments.values()
    assert any(env.urn == "beam:env:docker:v1" for env in envs)


def test_gap_build_passes_beam_options_through(capsys, tmp_path):
    from gap_pipeline.cli import main

    rc = main(["build", "--out", "gs://gap-dry-run/corpus", "--", "--runner", "DataflowRunner",
               "--project", "gap-dry-run", "--region", "europe-west1", "--temp_location", "gs://gap-dry-run/tmp",
               "--dry_run", "True", "--no_auth", "--sdk_location", "container"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dry_run"] is True and out["job_name"]
