"""tests/data/realdata, the redistributable subset of ../shared/realdata that a clone without it tests on:
every file is listed in tests/data/MANIFEST.tsv with its checksum and a redistributable licence, none is
under a path NOT_BUNDLED.tsv calls non-redistributable, and conftest.need() and per_file() skip, fail or
return as documented."""
from __future__ import annotations

import csv
import hashlib
import re

import pytest

import testkit.realdata
from testkit.realdata import BUNDLED_REALDATA, REPO, need, not_bundled_reason, per_file

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


PDFS = ["clario_rag/CDC_Outpatient-Guide-508.pdf", "nice_guidelines_clerky/a.pdf", "clario_rag/WHO_x.pdf",
        "cermine_articles/not-there.pdf"]


def test_per_file_in_a_bare_clone_keeps_bundled_files_and_folds_the_rest_into_one_skip(monkeypatch, tmp_path):
    monkeypatch.setattr(testkit.realdata, "SHARED_REALDATA", tmp_path / "absent")
    cases = per_file("6-medical-pdfs", PDFS)
    # Bundled, then unexcused (so need() fails on it), then one skipped case naming the rest with licences.
    assert cases[:2] == ["clario_rag/CDC_Outpatient-Guide-508.pdf", "cermine_articles/not-there.pdf"]
    [skipped] = cases[2:]
    [mark] = skipped.marks
    assert skipped.values == (None,) and skipped.id == "not-bundled" and mark.name == "skip"
    reason = mark.kwargs["reason"]
    assert reason.startswith("2 of 4 files are only in ../shared/realdata")
    assert "Copyright NICE, all rights reserved" in reason and "CC BY-NC-SA 3.0 IGO (WHO)" in reason
    assert "6-medical-pdfs/nice_guidelines_clerky/a.pdf" in reason and "6-medical-pdfs/clario_rag/WHO_x.pdf" in reason


def test_per_file_with_the_shared_set_gives_every_name(monkeypatch, tmp_path):
    monkeypatch.setattr(testkit.realdata, "SHARED_REALDATA", tmp_path)
    assert per_file("6-medical-pdfs", PDFS) == PDFS  # a missing one then skips or fails in need(), as before
    monkeypatch.setattr(testkit.realdata, "SHARED_REALDATA", tmp_path / "absent")
    assert per_file("6-medical-pdfs", PDFS[:1]) == PDFS[:1]  # nothing excused: no skipped case
