"""Training metrics: throughput, model FLOPs utilisation, and the JSONL log (one line per step).

MFU = (FLOPs per token x tokens per second per device) / the device's peak dense bf16 FLOP/s.
FLOPs per token = 6N + attention (see model.flops_per_token).
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

from schemas.jsonl import jsonl_lines, read_jsonl

log = logging.getLogger("gap.train")

# Peak dense (no sparsity) bf16 tensor-core FLOP/s from the vendors' datasheets, matched on
# torch.cuda.get_device_name(). Order matters: more specific names first.
PEAK_BF16_FLOPS: tuple[tuple[str, float], ...] = (
    ("GH200", 989.5e12),
    ("H200", 989.5e12),
    ("H100 PCIe", 756.0e12),
    ("H100 NVL", 835.0e12),
    ("H100", 989.5e12),      # SXM
    ("H800", 989.5e12),
    ("B200", 2250.0e12),
    ("A100", 312.0e12),
    ("A800", 312.0e12),
    ("L40S", 362.05e12),
    ("L4", 121.0e12),
    ("A10G", 70.0e12),
    ("A10", 125.0e12),
    ("V100", 125.0e12),      # fp16 tensor cores (no bf16)
)


def device_peak_flops(device_name: str | None) -> float | None:
    """Peak dense bf16 FLOP/s of a GPU by name, or None when unknown (e.g. a CPU)."""
    if not device_name:
        return None
    for key, peak in PEAK_BF16_FLOPS:
        if key.lower() in device_name.lower():
            return peak
    return None


def mfu(flops_per_token: float, tokens_per_s_per_device: float, peak_flops: float | None) -> float | None:
    if not peak_flops or tokens_per_s_per_device <= 0:
        return None
    return flops_per_token * tokens_per_s_per_device / peak_flops


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    return value


class MetricsLog:
    """Rank 0 appends one JSON object per line; other ranks hold an inert instance.

    On resume the file is cut back to the checkpointed step, so each step appears exactly once even
    when a run died after logging steps it had not yet checkpointed."""

    def __init__(self, path: Path, enabled: bool, resume_step: int = 0):
        self.path, self.enabled = Path(path), enabled
        if not enabled:
            return
        kept: list[str] = []
        if resume_step > 0 and self.path.is_file():
            for _, line in jsonl_lines(self.path.read_bytes()):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash
                if record.get("step", 0) <= resume_step:
                    kept.append(line)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(k + "\n" for k in kept), encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({k: _clean(v) for k, v in record.items()}, sort_keys=True) + "\n")

    def console(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        parts = [f"step {record['step']}"]
        for key, fmt in (("loss", "{:.4f}"), ("lr", "{:.2e}"), ("grad_norm", "{:.3f}"),
                         ("tokens_per_s", "{:,.0f}"), ("mfu", "{:.1%}"), ("data_share", "{:.2%}")):
            if record.get(key) is not None:
                parts.append(f"{key} " + fmt.format(record[key]))
        for key, value in record.items():
            if key.startswith("val_loss/"):
                parts.append(f"{key} {value:.4f}")
        log.info(" | ".join(parts))


def read_metrics(path: Path) -> list[dict[str, Any]]:
    return read_jsonl(Path(path).read_bytes(), where=str(path))
