"""Sources a user adds live with the user's corpus: `gap sources add` into the corpus's own folder, then
scrape (fixture site on 127.0.0.1) -> build -> verify, with the folder named by the config's `specs_dir`."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from gap_pipeline.cli import main
from scrapers.specs import SOURCES_DIR, SpecError, load_corpus_specs, load_spec, spec_origin
from testkit.quality_sets import RECOMMENDATIONS
from testkit.server import FixtureServer, Page


def _synthesis_page(joint: str, recs: list[int]) -> str:
    """A guideline synthesis page (repeated population phrase, field labels, comparison lists, a table)."""
    body = [f"<h1>Management of osteoarthritis of the {joint}</h1>",
            f"<p>This synthesis compares the advice of three organisations for patients with symptomatic "
            f"osteoarthritis of the {joint}, and notes where their wording or the strength of their advice differs.</p>"]
    for i in recs:
        name, advice, comparison, evidence = RECOMMENDATIONS[i]
        body += [f"<h2>Recommendation {i + 1}: {name}</h2>",
                 f"<p>For patients with symptomatic osteoarthritis of the {joint}, {advice}. {comparison}</p>",
                 "<p>Strength of Recommendation: Strong</p><p>Quality of Evidence: Moderate</p>",
                 "<p>Comparison with other guidelines:</p><ul><li>AAOS: strong recommendation</li>"
                 "<li>ACR: conditional recommendation</li><li>OARSI: core treatment</li></ul>",
                 f"<p>Rationale: {evidence} The work group judged the evidence in patients with symptomatic "
                 f"osteoarthritis of the {joint} and weighed benefits against harms.</p>"]
    body.append("<table><tr><th>Grade</th><th>Definition</th></tr><tr><td>Strong</td><td>Two or more high "
                "quality studies</td></tr><tr><td>Moderate</td><td>One high quality study</td></tr></table>")
    return _shell("".join(body))


# 46 words: below the corpus-wide min_words (50), so only the spec's own quality override keeps it.
SHORT = ("Hand osteoarthritis update: the publisher now advises that patients with painful hand osteoarthritis "
         "should be offered education about joint protection, an assessment for splints, and topical "
         "nonsteroidal anti-inflammatory drugs before any oral treatment, reviewing the response after four weeks "
         "with the care team.")


def _shell(main: str) -> str:
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Guideline syntheses</title></head>"
            "<body><nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
            f"<main>{main}</main><footer><a href='/privacy'>Privacy</a></footer></body></html>")


def _site() -> dict:
    pages = {"/syntheses/knee-oa": _synthesis_page("knee", [0, 1, 2, 3]),
             "/syntheses/hip-oa": _synthesis_page("hip", [4, 5, 6, 7]),
             "/syntheses/knee-oa-drugs": _synthesis_page("knee", [2, 3, 4, 5, 6]),
             "/syntheses/hand-oa-update": _shell(f"<h1>Hand osteoarthritis update</h1><p>{SHORT}</p>")}
    links = "".join(f"<li><a href='{path}'>{path}</a></li>" for path in pages)
    routes = {"/syntheses/": Page(_shell(f"<h1>Syntheses</h1><ul>{links}</ul>"))}
    routes.update({path: Page(html) for path, html in pages.items()})
    return routes


def test_a_source_added_to_a_corpus_folder_is_scraped_built_and_verified(tmp_path, monkeypatch, capsys):
    from gap_pipeline.build import sample_dir
    from gap_pipeline.config import load_config
    from transforms.quality import quality_reason, thresholds_for

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    monkeypatch.chdir(corpus)   # where a user runs gap: `sources add` writes ./sources, never the package
    shipped_before = sorted(p.name for p in SOURCES_DIR.iterdir())
    with FixtureServer(_site()) as srv:
        assert main(["sources", "add", "oa_syntheses", "--url", f"{srv.base}/syntheses/",
                     "--publisher", "Syntheses Inc.", "--license", "CC-BY-4.0", "--redistributable"]) == 0
        spec_path = corpus / "sources" / "oa_syntheses.yaml"
        assert spec_path.is_file() and (corpus / "sources" / "test_source_oa_syntheses.py").is_file()
        assert sorted(p.name for p in SOURCES_DIR.iterdir()) == shipped_before
        # The user tunes the source: its short update pages are wanted (a per-source quality override).
        spec = yaml.safe_load(spec_path.read_text())
        spec["quality"] = {"min_words": 30, "min_prose_words": 30}
        spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
        assert quality_reason(SHORT, thresholds_for(load_config().quality, "guidelines")) == "too_few_words"

        # The corpus already holds the embedded sample; the new source is scraped into the same raw store.
        shutil.copytree(Path(sample_dir()) / "raw", corpus / "raw")
        assert main(["scrape", "--sources", "oa_syntheses", "--out", "raw", "--specs-dir", "sources",
                     "--allow-loopback", "--rate-limit", "0", "--no-progress"]) == 0
    capsys.readouterr()
    sample_cfg = yaml.safe_load((Path(sample_dir()) / "config.yaml").read_text())
    sample_cfg.update(input="raw", specs_dir="sources", decontamination={"benchmarks": []})
    (corpus / "corpus.yaml").write_text(yaml.safe_dump(sample_cfg))

    assert main(["build", "--config", "corpus.yaml", "--out", "out"]) == 0
    manifest = json.loads((corpus / "out" / "manifest.json").read_text())
    assert manifest["sources"]["oa_syntheses"]["documents_kept"] == 4, manifest["sources"]["oa_syntheses"]
    quarantined = [json.loads(line) for f in sorted((corpus / "out" / "quarantine").glob("*.jsonl"))
                   for line in f.read_text().split("\n") if line]
    assert not [q for q in quarantined if q["source"] == "oa_syntheses"]
    docs = [row for f in sorted((corpus / "out" / "documents").glob("*.parquet"))
            for row in pq.read_table(f, columns=["source", "url", "text"]).to_pylist()]
    ours = {row["url"].rsplit("/", 1)[-1]: row["text"] for row in docs if row["source"] == "oa_syntheses"}
    assert set(ours) == {"knee-oa", "hip-oa", "knee-oa-drugs", "hand-oa-update"}
    assert "Strength of Recommendation: Strong" in ours["knee-oa"] and SHORT in ours["hand-oa-update"]
    assert main(["verify", "out"]) == 0


def test_corpus_specs_sit_beside_the_shipped_ones_and_may_replace_one(tmp_path, capsys):
    shipped = load_corpus_specs()
    mine = tmp_path / "sources"
    mine.mkdir()
    cdc = load_spec("cdc")
    cdc["priority"] = 99
    (mine / "cdc.yaml").write_text(yaml.safe_dump(cdc))
    new = dict(load_spec("idsa"), id="my_source")
    (mine / "my_source.yaml").write_text(yaml.safe_dump(new))
    specs = load_corpus_specs(mine)
    assert set(specs) == set(shipped) | {"my_source"}
    assert specs["cdc"]["priority"] == 99 and spec_origin("cdc", mine) == "user" and spec_origin("who", mine) == "shipped"
    assert main(["sources", "list", "--specs-dir", str(mine), "--json"]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["my_source"]["origin"] == "user" and rows["nice"]["origin"] == "shipped"
    with pytest.raises(SpecError, match="specs folder not found"):
        load_corpus_specs(tmp_path / "nope")


def test_bad_specs_dir_is_a_one_line_error(tmp_path, capsys):
    assert main(["scrape", "--out", str(tmp_path / "raw"), "--specs-dir", str(tmp_path / "nope")]) == 2
    assert "specs folder not found" in capsys.readouterr().err
    cfg = tmp_path / "corpus.yaml"
    from gap_pipeline.build import sample_dir
    cfg.write_text(f"input: {Path(sample_dir()) / 'raw'}\nspecs_dir: missing\n")
    assert main(["build", "--config", str(cfg), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "specs_dir" in err and "missing" in err and "Traceback" not in err
    bad = tmp_path / "bad"
    bad.mkdir()
    spec = load_spec("cdc")
    spec["quality"] = {"max_dup_ngram_fraction": 3}
    (bad / "cdc.yaml").write_text(yaml.safe_dump(spec))
    assert main(["sources", "list", "--specs-dir", str(bad)]) == 2
    assert "quality.max_dup_ngram_fraction" in capsys.readouterr().err


def test_sources_add_never_writes_into_the_package(tmp_path, capsys):
    assert main(["sources", "add", "acme", "--url", "https://acme.org/g/", "--specs-dir", str(SOURCES_DIR)]) == 2
    assert "installed package" in capsys.readouterr().err
    assert not (SOURCES_DIR / "acme.yaml").exists()
