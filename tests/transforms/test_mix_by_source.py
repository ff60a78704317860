"""Mixture by source (mixture.by: source): one source per packed row, exact per-source shares under Beam,
verify checking them, config keys validated per mode, and by-subset output left as it was."""
from __future__ import annotations

import collections
import json

import pyarrow as pa
import pytest

from gap_pipeline.cli import main
from gap_pipeline.config import ConfigError, validate_config
from schemas.shard import token_shard_schema, validate_shard_schema
from testkit.tail_build import build_fake_out, corpus_fixtures, run_stages, run_verify
from testkit.shard_docs import make_docs_two_guideline_sources
from transforms.mix import MixtureError, mixture_counts, mixture_report
from transforms.shards import read_shard

SEQ_LEN = 64
SOURCE_SHARES = {"who": 0.15, "cdc": 0.1, "pmc": 0.45, "pubmed": 0.2, "replay": 0.1}
SUBSET_OF = {"who": "guidelines", "cdc": "guidelines", "pmc": "papers", "pubmed": "abstracts", "replay": "replay"}


@pytest.fixture(scope="module")
def docs():
    return make_docs_two_guideline_sources(n_per_subset=25)


@pytest.fixture(scope="module")
def built(docs, tmp_path_factory):
    out = tmp_path_factory.mktemp("by_source")
    return out, run_stages(docs, out, seq_len=SEQ_LEN, by="source", shares=SOURCE_SHARES)


def test_per_source_shares_are_exact_under_beam_and_rows_hold_one_source(docs, built):
    out, res = built
    source_of = {d.id: d.source for d in docs}
    train_rows = collections.Counter()
    for shard in res["shards"]:
        table = read_shard(str(out / shard["path"]))
        assert table.schema.field("source").type == pa.string()
        validate_shard_schema(table.schema, SEQ_LEN)
        per_shard = collections.Counter(table.column("source").to_pylist())
        assert dict(per_shard) == shard["source_rows"]
        for row in table.to_pylist():
            # Packing by source: every document of a row comes from the row's source.
            assert {source_of[d] for d in row["doc_ids"]} == {row["source"]}
            assert SUBSET_OF[row["source"]] == row["subset"]
            if shard["split"] == "train":
                train_rows[row["source"]] += 1
    mixture = res["mixture"]
    assert mixture["by"] == "source"
    total = sum(train_rows.values())
    assert total == mixture["train_rows"]
    for source, share in SOURCE_SHARES.items():
        entry = mixture["sources"][source]
        assert train_rows[source] == entry["rows"]
        assert abs(train_rows[source] / total - share) <= 0.001, source
        assert entry["realised_share"] == pytest.approx(train_rows[source] / total)
        assert entry["subset"] == SUBSET_OF[source]
    # The subsets section sums its sources, and is held to the same tolerance.
    guidelines = mixture["subsets"]["guidelines"]
    assert guidelines["rows"] == train_rows["who"] + train_rows["cdc"]
    assert guidelines["target_share"] == pytest.approx(0.25)
    assert abs(guidelines["rows"] / total - 0.25) <= 0.001
    # cdc and who were mixed separately: with equal document counts their natural shares are close,
    # but the targets differ, so one is sampled down relative to the other.
    assert mixture["sources"]["who"]["rows"] != mixture["sources"]["cdc"]["rows"]


def test_by_source_is_byte_identical_across_workers(docs, built, tmp_path):
    out, res = built
    again = run_stages(docs, tmp_path / "again", seq_len=SEQ_LEN, by="source", shares=SOURCE_SHARES, workers=2)
    assert [(s["path"], s["sha256"]) for s in again["shards"]] == [(s["path"], s["sha256"]) for s in res["shards"]]


def test_share_for_a_source_without_rows_is_an_error():
    with pytest.raises(MixtureError, match="sources with no train rows: nice"):
        mixture_counts({"who": 10, "pmc": 10}, "shares", {"who": 0.5, "nice": 0.5}, by="source")


def test_group_shares_held_to_the_tolerance():
    # 20 small sources of one subset: each within 0.1 point is not enough, their sum must be too.
    available = {f"s{i:02d}": 3 + i for i in range(20)} | {"pmc": 50}
    shares = {f"s{i:02d}": 0.5 / 20 for i in range(20)} | {"pmc": 0.5}
    groups = {f"s{i:02d}": "guidelines" for i in range(20)} | {"pmc": "papers"}
    counts = mixture_counts(available, "shares", shares, groups=groups, by="source")
    total = sum(counts.values())
    guideline_rows = sum(n for s, n in counts.items() if groups[s] == "guidelines")
    assert abs(guideline_rows / total - 0.5) <= 0.001
    assert all(abs(counts[s] / total - shares[s]) <= 0.001 for s in shares)
    report = mixture_report(available, counts, "shares", shares, 65, "source", groups)
    assert report["subsets"]["guidelines"]["rows"] == guideline_rows
    assert report["subsets"]["guidelines"]["target_share"] == pytest.approx(0.5)


# --------------------------------------------------------------------------- verify


pristine, corpus = corpus_fixtures("by_source_corpus", lambda out: build_fake_out(
    make_docs_two_guideline_sources(n_per_subset=12), out, target_bytes=8192, by="source", shares=SOURCE_SHARES))


def test_by_source_corpus_verifies(corpus, capsys):
    code, text = run_verify(corpus, capsys)
    assert code == 0, text


def test_verify_catches_a_wrong_per_source_share(corpus, capsys):
    path = corpus / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["mixture"]["sources"]["cdc"]["target_share"] += 0.005  # realised stays: 0.5 point off target
    path.write_text(json.dumps(manifest))
    code, text = run_verify(corpus, capsys)
    assert code == 1
    assert "mixture: source cdc has" in text and "more than 0.1 percentage point off" in text
    assert "source who" not in text  # only the broken source is reported


def test_verify_catches_per_source_rows_that_do_not_match_the_shard(corpus, capsys):
    path = corpus / "manifest.json"
    manifest = json.loads(path.read_text())
    shard = next(s for s in manifest["shards"] if s["split"] == "train" and s["source_rows"].get("who"))
    shard["source_rows"]["who"] -= 1
    shard["source_rows"]["cdc"] = shard["source_rows"].get("cdc", 0) + 1
    manifest["mixture"]["sources"]["who"]["realised_share"] += 0.01
    path.write_text(json.dumps(manifest))
    code, text = run_verify(corpus, capsys)
    assert code == 1
    assert f"row count: {shard['path']} has rows per source" in text
    assert "mixture: source who realised_share is" in text
    assert "train shards hold" in text and "tokens of source cdc" in text


def test_verify_needs_per_source_counts_when_the_mixture_is_by_source(corpus, capsys):
    path = corpus / "manifest.json"
    manifest = json.loads(path.read_text())
    for shard in manifest["shards"]:
        shard.pop("source_rows", None)
    path.write_text(json.dumps(manifest))
    code, text = run_verify(corpus, capsys)
    assert code == 1
    assert "the mixture is by source but the train shards do not count rows per source" in text


# --------------------------------------------------------------------------- by subset unchanged


def test_by_subset_schema_and_report_are_as_before():
    schema = token_shard_schema(SEQ_LEN, 600)
    assert schema.names == ["input_ids", "subset", "doc_ids", "doc_starts"]
    assert token_shard_schema(SEQ_LEN, 600, with_source=True).names == schema.names + ["source"]
    report = mixture_report({"papers": 10, "replay": 2}, {"papers": 9, "replay": 3}, "shares",
                            {"papers": 0.75, "replay": 0.25}, SEQ_LEN + 1)
    assert report["by"] == "subset" and "sources" not in report
    assert report["subsets"]["replay"]["target_share"] == 0.25


def test_by_subset_beam_output_has_no_source(tmp_path):
    docs = make_docs_two_guideline_sources(n_per_subset=6)
    res = run_stages(docs, tmp_path, seq_len=SEQ_LEN, target_bytes=1 << 20)
    assert "sources" not in res["mixture"]
    for shard in res["shards"]:
        assert "source_rows" not in shard
        assert read_shard(str(tmp_path / shard["path"])).schema.names == ["input_ids", "subset", "doc_ids",
                                                                          "doc_starts"]


# --------------------------------------------------------------------------- config


def test_config_by_subset_rejects_source_keys():
    with pytest.raises(ConfigError, match=r"mixture\.shares\.pmc: unknown subset.*mixture\.by: source"):
        validate_config({"mixture": {"shares": {"pmc": 0.5, "papers": 0.5}}})
    with pytest.raises(ConfigError, match=r"mixture\.factors\.who: unknown subset"):
        validate_config({"mixture": {"mode": "factors", "factors": {"who": 2.0}}})


def test_config_by_source_takes_source_names():
    cfg = validate_config({"mixture": {"by": "source", "shares": SOURCE_SHARES}})
    assert cfg.mixture.by == "source" and cfg.mixture.shares == SOURCE_SHARES
    cfg = validate_config({"mixture": {"by": "source", "mode": "factors", "factors": {"cdc": 0.5}}})
    assert cfg.mixture.factors == {"cdc": 0.5}
    with pytest.raises(ConfigError, match=r"mixture\.shares\.who: not among the selected sources"):
        validate_config({"sources": ["pmc", "pubmed"],
                         "mixture": {"by": "source", "shares": {"pmc": 0.5, "who": 0.5}}})
    with pytest.raises(ConfigError, match="mixture.shares: must sum to 1"):
        validate_config({"mixture": {"by": "source", "shares": {"pmc": 0.5, "who": 0.4}}})
    with pytest.raises(ConfigError, match="mixture.by: must be one of"):
        validate_config({"mixture": {"by": "publisher"}})
    with pytest.raises(ConfigError, match=r"mixture\.shares\.pmc: expected a number"):
        validate_config({"mixture": {"by": "source", "shares": {"pmc": "half"}}})


def test_build_rejects_a_share_for_a_source_it_does_not_read(tmp_path):
    from gap_pipeline.build import run_build, sample_config_path
    from gap_pipeline.config import load_config
    cfg = load_config(sample_config_path(), overrides={"mixture": {"by": "source",
                                                                   "shares": {"pmc": 0.5, "nosuch": 0.5}}})
    with pytest.raises(ConfigError, match="mixture.shares: no source named nosuch"):
        run_build(cfg, str(tmp_path / "out"), workers=1)


def test_report_lists_per_source_targets(corpus, capsys):
    assert main(["report", str(corpus), "--no-plots"]) == 0
    report = (corpus / "report" / "report.md").read_text()
    assert "| source | subset | train tokens | target share | realised share |" in report
    for source, share in SOURCE_SHARES.items():
        line = next(l for l in report.splitlines() if l.startswith(f"| {source} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[3] == f"{share:.2%}", line  # the target
        assert abs(float(cells[4].rstrip("%")) - share * 100) < 0.2, line  # realised, within tolerance
        assert cells[2] != "0", line
