"""Where tests and benchmarks find real documents: ../shared/realdata beside the checkout (or GAP_REALDATA),
else tests/data/realdata, its redistributable subset (tests/conftest.py says more)."""
from __future__ import annotations

import csv
import functools
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_REALDATA = Path(os.environ.get("GAP_REALDATA", REPO.parent / "shared" / "realdata"))
BUNDLED_REALDATA = REPO / "tests" / "data" / "realdata"


def realdata_root() -> Path:
    """The shared set when present, else the bundled subset."""
    return SHARED_REALDATA if SHARED_REALDATA.is_dir() else BUNDLED_REALDATA


@functools.lru_cache(maxsize=None)
def _not_bundled() -> list[tuple[str, str, str]]:
    with open(REPO / "tests" / "data" / "NOT_BUNDLED.tsv", encoding="utf-8", newline="") as fh:
        return [(row["prefix"], row["licence"], row["why it is not in tests/data"])
                for row in csv.DictReader(fh, delimiter="\t")]


def not_bundled_reason(relative: str) -> str | None:
    """Why a realdata file is not in tests/data (licence), or None when nothing says so."""
    for prefix, licence, why in _not_bundled():
        if (relative.rstrip("/") + "/").startswith(prefix) or relative.startswith(prefix):
            return f"{licence}: {why}"
    return None


def per_file(folder: str, names: list[str]) -> list:
    """Parameters for a test run once per real file under `folder`: every name when the shared set is here.
    In a bare clone, the bundled names (and any name NOT_BUNDLED.tsv does not excuse, so that need() fails
    on it), then one skipped case that lists the files only ../shared has and their licences: one skip
    says what a bare clone cannot check, instead of one per missing file."""
    root = realdata_root()
    if root != BUNDLED_REALDATA:
        return list(names)
    absent = {name: not_bundled_reason(f"{folder}/{name}") for name in names if not (root / folder / name).exists()}
    cases: list = [name for name in names if absent.get(name) is None]
    excused = [name for name in names if absent.get(name) is not None]
    if excused:
        licences = "; ".join(sorted({absent[name] for name in excused}))
        cases.append(pytest.param(None, id="not-bundled", marks=pytest.mark.skip(
            reason=f"{len(excused)} of {len(names)} files are only in ../shared/realdata ({licences}): "
                   + ", ".join(f"{folder}/{name}" for name in excused))))
    return cases


def need(root: Path, relative: str) -> Path:
    """root/relative, or skip the test when only the shared set can have that file; a file missing
    for no recorded reason is a broken bundle and fails."""
    path = root / relative
    if path.exists():
        return path
    reason = not_bundled_reason(relative)
    if root != BUNDLED_REALDATA:
        pytest.skip(f"{relative} is missing from {root}")
    if reason is None:
        pytest.fail(f"{relative} is neither in tests/data/realdata nor listed in tests/data/NOT_BUNDLED.tsv")
    pytest.skip(f"needs {relative}, which is only in ../shared/realdata ({reason})")
