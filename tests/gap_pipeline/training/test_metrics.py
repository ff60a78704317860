"""The metrics log (cut back on resume) and MFU (gap_pipeline/training/metrics.py)."""
from __future__ import annotations

import pytest

from gap_pipeline.training.metrics import MetricsLog, device_peak_flops, mfu, read_metrics


def test_metrics_log_is_cut_back_to_the_resumed_step(tmp_path):
    path = tmp_path / "metrics.jsonl"
    log = MetricsLog(path, True)
    for step in range(1, 6):
        log.write({"step": step, "loss": 1.0 / step, "mfu": None})
    with path.open("a") as f:
        f.write('{"step": 6, "lo')   # a line cut short by a crash
    MetricsLog(path, True, resume_step=3)
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3]
    MetricsLog(path, False, resume_step=0)   # other ranks never touch the file
    assert len(read_metrics(path)) == 3


def test_peak_flops_and_mfu():
    assert device_peak_flops("NVIDIA H100 80GB HBM3") == pytest.approx(989.5e12)
    assert device_peak_flops("NVIDIA H100 PCIe") == pytest.approx(756e12)
    assert device_peak_flops("NVIDIA A100-SXM4-80GB") == pytest.approx(312e12)
    assert device_peak_flops("cpu") is None
    assert mfu(1e9, 400_000, 989.5e12) == pytest.approx(1e9 * 4e5 / 989.5e12)
    assert mfu(1e9, 1000, None) is None
