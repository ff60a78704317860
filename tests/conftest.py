"""Shared fixtures.

Real documents: the full set lives in ../shared/realdata beside the checkout (or wherever GAP_REALDATA
points). A clone without it tests on tests/data/realdata, the redistributable subset of the same folder
(same layout; tests/data/MANIFEST.tsv gives each file's origin and licence). Tests reach files through
`realdata` and `need()`: a file that only the shared set has, because it may not be redistributed,
skips the test with the file's licence as the reason (tests/data/NOT_BUNDLED.tsv)."""
from __future__ import annotations

from pathlib import Path

import pytest

from testkit.realdata import BUNDLED_REALDATA, SHARED_REALDATA, need, not_bundled_reason, realdata_root  # noqa: F401


@pytest.fixture(scope="session")
def realdata() -> Path:
    """The real-document folder: ../shared/realdata when present, else the bundled subset."""
    return realdata_root()


@pytest.fixture(scope="session")
def realdata_full() -> Path:
    """The full shared set, for assertions whose counts or thresholds were measured on all of it."""
    if not SHARED_REALDATA.is_dir():
        pytest.skip(f"needs the full real-document set at {SHARED_REALDATA}: measured on all of it, including "
                    "files that may not be redistributed (tests/data/NOT_BUNDLED.tsv); its variant on the "
                    "bundled subset runs instead")
    return SHARED_REALDATA


@pytest.fixture(scope="session")
def realdata_bundled() -> Path:
    """The bundled subset, whether or not the shared set is present (bare-clone variants of tests)."""
    return BUNDLED_REALDATA
