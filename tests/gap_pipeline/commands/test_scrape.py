"""`gap scrape` (gap_pipeline/commands/scrape.py): reports, exit codes, bad spec files."""
from __future__ import annotations

import json

from gap_pipeline.cli import main
from schemas.raw_store import read_raw_store
from scrapers.raw_store import read_last_scrape
from testkit.server import FixtureServer, Page
from tests.gap_pipeline.commands._helpers import write_local_specs
from tests.scrapers.sites import SITES


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
