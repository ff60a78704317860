"""tests/data/realdata, the redistributable subset of ../shared/realdata that a clone without it tests on:
every file is listed in tests/data/MANIFEST.tsv with its checksum and a redistributable licence, none is
under a path NOT_BUNDLED.tsv calls non-redistributable, and conftest.need() skips, fails or returns as
documented."""
from __future__ import annotations

import csv
import hashlib
import re

import pytest

from testkit.realdata import BUNDLED_REALDATA, REPO, need, not_bundled_reason

DATA = REPO / "tests" / "data"
# Licences a file may carry to be copied into the repository.
REDISTRIBUTABLE = re.compile(r"^(CC BY( \d\.\d)?|CC BY 4\.0|CC0|Public domain|US public domain)\b")


def _manifest() -> list[dict]:
    with open(DATA / "MANIFEST.tsv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_every_bundled_file_is_listed_with_its_checksum_and_an_open_licence():
    rows = {row["path"]: row for row in _manifest()}
    files = {p.relative_to(BUNDLED_REALDATA).as_posix(): p for p in BUNDLED_REALDATA.rglob("*") if p.is_file()}
    assert files and set(files) == set(rows)
    for relative, path in files.items():
        row = rows[relative]
        content = path.read_bytes()
        assert int(row["bytes"]) == len(content), relative
        assert hashlib.sha256(content).hexdigest()[:16] == row["sha256_16"], relative
        assert REDISTRIBUTABLE.match(row["licence"]), (relative, row["licence"])
        assert not re.search(r"\bNC\b|\bND\b|all rights reserved", row["licence"], re.IGNORECASE), relative
        assert row["origin"] and row["commit_or_version"] and row["used_by"], relative
        assert not_bundled_reason(relative) is None, f"{relative} is under a NOT_BUNDLED prefix"
    assert sum(len(p.read_bytes()) for p in files.values()) < 15_000_000  # keep the repository small


def test_need_returns_skips_with_the_licence_or_fails(tmp_path):
    assert need(BUNDLED_REALDATA, "6-medical-pdfs/clario_rag/CDC_Outpatient-Guide-508.pdf").is_file()
    with pytest.raises(pytest.skip.Exception, match=r"nice_guidelines_clerky/x\.pdf.*Copyright NICE, all rights"):
        need(BUNDLED_REALDATA, "6-medical-pdfs/nice_guidelines_clerky/x.pdf")
    with pytest.raises(pytest.skip.Exception, match=r"CC BY-NC 4\.0"):
        need(BUNDLED_REALDATA, "4-multilingual-langid/lingua_testdata")  # a folder named without its slash
    with pytest.raises(pytest.fail.Exception, match="neither in tests/data/realdata nor listed"):
        need(BUNDLED_REALDATA, "6-medical-pdfs/cermine_articles/not-there.pdf")
    with pytest.raises(pytest.skip.Exception, match="is missing from"):
        need(tmp_path, "6-medical-pdfs/nice_guidelines_clerky/x.pdf")  # a shared folder lacking a file
