"""gap_pipeline/build.py, worker processes: `--workers N` on the default runner runs N processes of
gap_pipeline.local_worker; a runner the user names keeps Beam's own multi-process mode."""
from __future__ import annotations

from apache_beam.options.pipeline_options import DirectOptions, StandardOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from gap_pipeline.build import beam_options, local_processes_runner


def _worker_command(runner: FnApiRunner) -> str:
    return runner._default_environment.command_string


def test_several_workers_on_the_default_runner_are_local_worker_processes():
    options = beam_options([], 3)
    assert options.view_as(StandardOptions).runner == "FnApiRunner"
    assert options.view_as(DirectOptions).direct_num_workers == 3
    runner = local_processes_runner(options)
    assert isinstance(runner, FnApiRunner)
    assert _worker_command(runner).endswith(" -m gap_pipeline.local_worker")


def test_one_worker_or_a_named_runner_or_mode_is_left_to_beam():
    assert local_processes_runner(beam_options([], None)) is None
    assert local_processes_runner(beam_options([], 1)) is None
    named = beam_options(["--runner=DirectRunner"], 2)
    assert named.view_as(DirectOptions).direct_running_mode == "multi_processing"
    assert local_processes_runner(named) is None
    threads = beam_options(["--direct_running_mode=multi_threading"], 2)
    assert local_processes_runner(threads) is None
