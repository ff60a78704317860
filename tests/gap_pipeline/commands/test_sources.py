"""`gap sources check` and `gap sources add` (gap_pipeline/commands/sources.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from gap_pipeline.cli import main
from scrapers.specs import load_spec, load_spec_file
from testkit.server import FixtureServer
from tests.gap_pipeline.commands._helpers import write_local_specs
from tests.scrapers.sites import SITES

REPO = Path(__file__).resolve().parents[3]


def test_sources_check_dry_runs_discovery(tmp_path, capsys):
    routes, expected = SITES["gc"]()
    with FixtureServer(routes) as srv:
        specs_dir = write_local_specs(tmp_path, srv, ["gc"])
        assert main(["sources", "check", "gc", "--specs-dir", str(specs_dir), "--allow-loopback"]) == 0
        out = capsys.readouterr().out
        assert "3 article(s) from 2 listing page(s)" in out
        article_hits = [p for p in srv.paths() if p.startswith("/summaries/") and p != "/summaries/" and "page=" not in p]
        assert article_hits == []  # a dry run fetches no article
    bad = tmp_path / "bad"
    bad.mkdir()
    spec = load_spec("gc")
    spec["subset"] = "blogs"
    (bad / "gc.yaml").write_text(yaml.safe_dump(spec))
    assert main(["sources", "check", "gc", "--specs-dir", str(bad)]) == 1
    assert "subset" in capsys.readouterr().err
    spec["subset"] = "guidelines"
    spec["content"]["body_selector"] = "div:has(> p)"  # CSS, but not what the extractor runs
    (bad / "gc.yaml").write_text(yaml.safe_dump(spec))
    assert main(["sources", "check", "gc", "--specs-dir", str(bad), "--offline"]) == 1
    assert capsys.readouterr().err.startswith("INVALID: source spec gc: content.body_selector: unsupported CSS")


def test_sources_add_writes_a_valid_spec_and_a_passing_test(tmp_path):
    specs_dir, tests_dir = tmp_path / "specs", tmp_path / "tests"
    args = ["sources", "add", "acme_health", "--url", "https://www.acme-health.org/guidelines/",
            "--publisher", "ACME Health", "--license", "CC-BY-4.0", "--redistributable",
            "--specs-dir", str(specs_dir), "--tests-dir", str(tests_dir)]
    assert main(args) == 0
    spec = load_spec_file(specs_dir / "acme_health.yaml")
    assert spec["allowed_domains"] == ["acme-health.org"] and spec["redistributable"] is True
    assert main(args) == 2  # refuses to overwrite
    test_file = tests_dir / "test_source_acme_health.py"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
                          cwd=str(REPO), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert main(["sources", "add", "Bad-Name", "--url", "https://x.org/"]) == 2


def test_sources_add_into_a_file_is_one_line(tmp_path, capsys):
    mine = tmp_path / "mine.txt"
    mine.write_text("mine\n")
    for flag, folder in (("--specs-dir", mine), ("--specs-dir", mine / "sub"), ("--tests-dir", mine)):
        extra = [] if flag == "--specs-dir" else ["--specs-dir", str(tmp_path / "specs")]
        assert main(["sources", "add", "acme", "--url", "https://acme.org/list/", flag, str(folder), *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("gap sources add: ") and err.count("\n") == 1, err
    assert mine.read_text() == "mine\n"
