"""What a build's log leaves out (gap_pipeline/build.py, _QuietBeamNoise): Beam's lines a user can do nothing
with, and nothing else."""
from __future__ import annotations

import logging

from gap_pipeline.build import _QuietBeamNoise
from transforms.docfiles import DocumentFileError


def _record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, None) if exc else None
    return logging.LogRecord("apache_beam.runners.portability.local_job_service", logging.WARNING, __file__, 1,
                             message, (), info)


def test_worker_start_up_warning_and_damaged_file_tracebacks_are_left_out():
    quiet = _QuietBeamNoise()
    assert not quiet.filter(_record('Worker: severity: WARN message: "No semi_persistent_directory found: User '
                                    'registered objects ..."'))
    assert not quiet.filter(_record("Worker: severity: ERROR message: \"Traceback ... transforms.docfiles."
                                    "DocumentFileError: /o/part-000001.parquet: damaged ...\""))
    assert not quiet.filter(_record("/o/part-000001.parquet: damaged [while running 'Filter']",
                                    DocumentFileError("/o/part-000001.parquet: damaged")))


def test_every_other_line_is_kept():
    quiet = _QuietBeamNoise()
    assert quiet.filter(_record("Worker: severity: ERROR message: \"Traceback ... ValueError: bad rule\""))
    assert quiet.filter(_record("a DoFn failed", ValueError("bad rule")))
    assert quiet.filter(_record("Running job 'gap-build' with 2 workers"))


def test_the_runners_advice_on_running_modes_is_left_out():
    # local_processes_runner gives several workers processes its own way; Beam warns it would not
    record = logging.LogRecord("apache_beam.runners.portability.fn_api_runner.fn_runner", logging.WARNING, __file__,
                               1, "If direct_num_workers is not equal to 1, direct_running_mode should be "
                               "`multi_processing` ...", (), None)
    assert not _QuietBeamNoise().filter(record)
    assert "apache_beam.runners.portability.fn_api_runner.fn_runner" in _QuietBeamNoise.LOGGERS
