import json
import subprocess
import sys
from pathlib import Path

import yaml

from gap_pipeline.cli import main
from schemas.raw_store import read_raw_store
from scrapers.raw_store import read_last_scrape
from scrapers.specs import load_spec, load_spec_file
from testkit.server import FixtureServer, Page
from tests.scrapers.sites import SITES, localize

REPO = Path(__file__).resolve().parents[3]


def write_local_specs(tmp_path, server, names):
    specs_dir = tmp_path / "specs"
    specs_dir.mkdir(exist_ok=True)
    for name in names:
        (specs_dir / f"{name}.yaml").write_text(yaml.safe_dump(localize(load_spec(name), server.base)))
    return specs_dir


def test_scrape_reports_and_exit_code(tmp_path, capsys):
    routes, expected = SITES["cdc"]()
    routes2, expected2 = SITES["idsa"]()
    routes.update(routes2)
    # idsa's first article now fails for good: the source reports it, cdc is unaffected.
    routes["/practice-guideline/clostridioides-difficile/"] = Page("gone", "text", status=410)
    with FixtureServer(routes) as srv:
        specs_dir = write_local_specs(tmp_path, srv, ["cdc", "idsa"])
        out = tmp_path / "raw"
        args = ["scrape", "--sources", "cdc,idsa", "--out", str(out), "--specs-dir", str(specs_dir),
                "--allow-loopback", "--rate-limit", "0", "--no-progress", "--summary-json", str(tmp_path / "s.json")]
        assert main(args) == 1
        text = capsys.readouterr().out
        assert "cdc" in text and "idsa" in text and "http_error=1" in text and "clostridioides-difficile" in text
        summary = {s["source"]: s for s in json.loads((tmp_path / "s.json").read_text())}
        assert summary["cdc"]["fetched"] == len(expected) and summary["cdc"]["failed"] == 0
        assert summary["idsa"]["fetched"] == len(expected2) - 1 and summary["idsa"]["failed"] == 1
        assert read_last_scrape(out, "cdc")["fetched"] == len(expected)
        # Resume: only cdc, nothing new, exit 0.
        assert main(args[:2] + ["cdc"] + args[3:]) == 0
        assert json.loads((tmp_path / "s.json").read_text())[0]["already_stored"] == len(expected)
        assert len(list(read_raw_store(out))) == len(expected) + len(expected2) - 1
        capsys.readouterr()
        # sources list shows the last scrape counts.
        assert main(["sources", "list", "--raw", str(out), "--json"]) == 0
        rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
        assert rows["cdc"]["last_scrape"]["already_stored"] == len(expected)
        assert rows["idsa"]["last_scrape"]["failed"] == 1 and rows["nice"]["last_scrape"] is None


def test_scrape_unknown_source_is_a_usage_error(tmp_path, capsys):
    assert main(["scrape", "--sources", "nope", "--out", str(tmp_path)]) == 2
    assert "unknown sources" in capsys.readouterr().err


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


def test_a_bad_spec_file_is_reported_and_skipped_unless_selected(tmp_path, capsys):
    routes, expected = SITES["cdc"]()
    with FixtureServer(routes) as srv:
        specs_dir = write_local_specs(tmp_path, srv, ["cdc"])
        (specs_dir / "broken.yaml").write_text("id: broken\ndiscovery: [unclosed\n")
        (specs_dir / "wrongid.yaml").write_text((specs_dir / "cdc.yaml").read_text())  # id 'cdc' in wrongid.yaml
        out = tmp_path / "raw"
        base = ["scrape", "--out", str(out), "--specs-dir", str(specs_dir), "--allow-loopback", "--rate-limit", "0",
                "--no-progress"]
        assert main(base + ["--sources", "cdc"]) == 0  # the valid source ran; the bad files were only reported
        captured = capsys.readouterr()
        lines = [ln for ln in captured.err.split("\n") if "skipping invalid spec" in ln]
        assert len(lines) == 2
        assert any("broken.yaml" in ln and "not valid YAML" in ln for ln in lines)
        assert any("wrongid.yaml" in ln and "must equal the file name" in ln for ln in lines)
        assert "Traceback" not in captured.err
        assert len(list(read_raw_store(out))) == len(expected)
        # Selecting a bad source is an error that names the file and the problem.
        assert main(base + ["--sources", "cdc,broken"]) == 2
        err = capsys.readouterr().err
        assert "error: source spec broken.yaml: not valid YAML" in err and len(err.strip().split("\n")) == 2
    assert main(["scrape", "--out", str(tmp_path / "x"), "--specs-dir", str(tmp_path / "nowhere")]) == 2
    assert "not a folder" in capsys.readouterr().err
