"""gap_pipeline/manifest.py: the manifest recounted from the files a build wrote, and its accounting.

Each test writes a small output folder by hand, in the shapes the pipeline writes (`_build/stats-<phase>.json`,
`dropped/*.jsonl`, `quarantine/*.jsonl`, `documents/part-*.parquet`, `_build/shards.json`,
`_build/mixture.json`, `tokenizer.model`), with counts worked out by hand, then tampers with one file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gap_pipeline.config import validate_config
from gap_pipeline.manifest import (AccountingError, assemble_manifest, duplicate_clusters, enabled_stages, iter_drops,
                                   load_stats, pack_waste)
from schemas import stages
from schemas.document import Document
from schemas.events import Drop, Quarantined
from schemas.stages import STAGE_ORDER
from transforms.docfiles import part_file, write_documents

# Raw records: cdc 5 in (1 superseded, 1 quarantined, 3 extracted); pubmed 1 in (extracted: one baseline file
# of 4 citations); who 2 in, both excluded (not selected).  8 = 2 + 1 + 1 + 4.
EXTRACT_STATS = {
    "raw_in\tcdc": [5, 5000, 0], "raw_superseded\tcdc": [1, 0, 0], "raw_extracted\tcdc": [3, 0, 0],
    "raw_in\tpubmed": [1, 900, 0], "raw_extracted\tpubmed": [1, 0, 0],
    "raw_in\twho": [2, 300, 0], "raw_excluded\twho": [2, 0, 0],
    # Documents extracted: cdc 3, pubmed 4 (one of them dropped by extract: no abstract) = 7.
    "extracted\tcdc\tguidelines": [3, 1300, 0], "extracted\tpubmed\tabstracts": [4, 470, 0],
}
# Drops: 3 (extract, quality, dedup_exact); kept: 4 = 7 - 3.
DROPS = [
    Drop(doc_id="p1", source="pubmed", subset="abstracts", stage=stages.EXTRACT, reason="no_abstract", chars=20,
         detail="PMID:1"),
    Drop(doc_id="c3", source="cdc", subset="guidelines", stage=stages.QUALITY, reason="too_short", chars=100),
    Drop(doc_id="p4", source="pubmed", subset="abstracts", stage=stages.DEDUP_EXACT, reason="exact_duplicate",
         chars=50, detail="p2"),
]
DEDUP_STATS = {"kept_chars\tcdc": [2, 1000, 0], "kept_chars\tpubmed": [2, 400, 0]}
# Tokens of the 4 kept documents: 400 for 1400 kept characters.
TOKENS_STATS = {
    "tokens\tcdc\tguidelines\ttrain": [2, 0, 300],
    "tokens\tpubmed\tabstracts\ttrain": [1, 0, 60], "tokens\tpubmed\tabstracts\tvalidation": [1, 0, 40],
    "pack_waste\tguidelines\ttrain": [0, 0, 7], "pack_waste\tabstracts\ttrain": [0, 0, 3],
    "pack_waste\tabstracts\tvalidation": [0, 0, 5],
}
QUARANTINED = Quarantined(source="cdc", url="http://127.0.0.1/broken.pdf", stage="extract",
                          error="corrupt PDF: no pages", content_type="pdf")
KEPT = [("c1", "cdc", "guidelines", "en"), ("c2", "cdc", "guidelines", "fr"),
        ("p2", "pubmed", "abstracts", "en"), ("p3", "pubmed", "abstracts", "")]
SOURCES_INFO = {"cdc": {"subset": "guidelines", "priority": 2, "license": "public-domain", "publisher": "CDC",
                        "redistributable": True},
                "pubmed": {"subset": "abstracts", "priority": 1, "license": "public-domain", "publisher": "NLM",
                           "redistributable": True}}


@pytest.fixture(scope="module")
def tokenizer_model() -> bytes:
    from transforms.tokenizer import train_sentencepiece
    texts = [f"Hypertension and the heart, lungs and kidneys: case {i}. " * 3 for i in range(200)]
    return train_sentencepiece(texts, {"vocab_size": 400})


def _write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2, sort_keys=True), encoding="utf-8")


def _corpus(out: Path, model: bytes, *, drops=DROPS, quarantined=(QUARANTINED,), kept=KEPT,
            tokens_stats=TOKENS_STATS) -> Path:
    """A build's output folder as the pipeline leaves it before the manifest is assembled."""
    _write_json(out / "_build" / "stats-extract.json", EXTRACT_STATS)
    _write_json(out / "_build" / "stats-dedup.json", DEDUP_STATS)
    _write_json(out / "_build" / "stats-tokens.json", tokens_stats)
    (out / "dropped").mkdir(parents=True)
    # Drops of the extract phase and of the later phases in separate files, as the build writes them.
    (out / "dropped" / "dropped-extract-00000-of-00001.jsonl").write_text(
        "".join(d.to_json() + "\n" for d in drops if d.stage == stages.EXTRACT), encoding="utf-8")
    (out / "dropped" / "dropped-filter-00000-of-00001.jsonl").write_text(
        "".join(d.to_json() + "\n" for d in drops if d.stage != stages.EXTRACT), encoding="utf-8")
    (out / "quarantine").mkdir()
    (out / "quarantine" / "quarantine-extract-00000-of-00001.jsonl").write_text(
        "".join(q.to_json() + "\n" for q in quarantined), encoding="utf-8")
    docs = [Document(id=i, source=s, subset=sub, title="", text="x" * 10, lang=lang) for i, s, sub, lang in kept]
    write_documents(part_file(str(out / "documents"), 0), docs[:2])
    write_documents(part_file(str(out / "documents"), 1), docs[2:])
    _write_json(out / "_build" / "shards.json", [
        {"path": "train/train-00000-of-00001.arrow", "split": "train", "rows": 1, "tokens": 360, "sha256": "0" * 64,
         "bytes": 100}])
    _write_json(out / "_build" / "mixture.json", {"mode": "natural", "by": "subset", "train_tokens": 360})
    (out / "tokenizer.model").write_bytes(model)
    return out


def _assemble(out: Path, cfg=None):
    return assemble_manifest(str(out), cfg or validate_config({}), config_hash="a" * 64, sources_info=SOURCES_INFO,
                             extra={"counters": {"quality:too_short": 1}})


def test_a_balanced_build_has_its_accounting_and_a_chained_stage_table(tmp_path, tokenizer_model):
    m = _assemble(_corpus(tmp_path, tokenizer_model))
    assert m["accounting"] == {
        "raw_records": {"in": 8, "excluded": 2, "superseded": 1, "quarantined": 1, "extracted": 4},
        "documents": {"extracted": 7, "dropped": 3, "kept": 4, "tokenized": 4}, "balanced": True}
    # Every stage the default config runs (decontamination has no benchmarks: not run), in the build's
    # order, each docs_in the previous docs_out; stages without drops pass everything through.
    assert m["stage_order"] == [s for s in STAGE_ORDER if s != stages.DECONTAMINATE] == list(m["stages"])
    chain = [(s, m["stages"][s]["docs_in"], m["stages"][s]["docs_out"]) for s in m["stage_order"]]
    assert chain == [("extract", 7, 6), ("pubmed_updates", 6, 6), ("boilerplate", 6, 6), ("clean", 6, 6),
                     ("quality", 6, 5), ("fulltext", 5, 5), ("dedup_exact", 5, 4), ("dedup_near", 4, 4),
                     ("language", 4, 4)]
    assert m["stages"]["quality"]["dropped"] == {"too_short": 1} and m["stages"]["quality"]["dropped_chars"] == 100
    assert m["stages"]["clean"] == {"docs_in": 6, "docs_out": 6, "dropped": {}, "dropped_chars": 0,
                                    "dropped_tokens_estimate": 0}
    # Dropped tokens are estimated at the kept rate, 400 tokens / 1400 chars.
    assert m["tokens_per_char"] == round(400 / 1400, 6)
    assert {s: m["stages"][s]["dropped_tokens_estimate"] for s in ("extract", "quality", "dedup_exact")} == {
        "extract": 6, "quality": 29, "dedup_exact": 14}  # round(20*2/7), round(100*2/7), round(50*2/7)
    assert m["counters"] == {"quality:too_short": 1} and m["config_hash"] == "a" * 64
    assert m["tokenizer"]["file"] == "tokenizer.model"
    assert m["tokenizer"]["seq_len"] == validate_config({}).packing.seq_len and m["tokenizer"]["vocab_size"] > 0
    assert m["mixture"]["train_tokens"] == 360 and m["shards"][0]["tokens"] == 360
    assert sorted(m["files"]) == ["documents/part-000000.parquet", "documents/part-000001.parquet",
                                  "dropped/dropped-extract-00000-of-00001.jsonl",
                                  "dropped/dropped-filter-00000-of-00001.jsonl",
                                  "quarantine/quarantine-extract-00000-of-00001.jsonl"]


def test_per_source_counts(tmp_path, tokenizer_model):
    sources = _assemble(_corpus(tmp_path, tokenizer_model))["sources"]
    assert list(sources) == ["cdc", "pubmed", "who"]
    cdc, pubmed, who = sources["cdc"], sources["pubmed"], sources["who"]
    assert (cdc["raw_records"], cdc["raw_superseded"], cdc["raw_quarantined"], cdc["raw_extracted"]) == (5, 1, 1, 3)
    assert (cdc["documents_extracted"], cdc["chars_extracted"], cdc["documents_kept"]) == (3, 1300, 2)
    assert cdc["dropped"] == {"quality": {"too_short": 1}} and cdc["tokens"] == {"train": 300, "validation": 0}
    assert pubmed["dropped"] == {"dedup_exact": {"exact_duplicate": 1}, "extract": {"no_abstract": 1}}
    assert pubmed["tokens"] == {"train": 60, "validation": 40} and pubmed["documents_kept"] == 2
    assert (pubmed["license"], pubmed["publisher"], pubmed["priority"]) == ("public-domain", "NLM", 1)
    assert (who["raw_records"], who["raw_excluded"], who["documents_extracted"], who["dropped"]) == (2, 2, 0, {})
    assert "license" not in who  # no spec info given for it


def test_languages_are_counted_over_the_kept_documents(tmp_path, tokenizer_model):
    assert _assemble(_corpus(tmp_path, tokenizer_model))["languages"] == {"en": 2, "fr": 1, "und": 1}


def test_a_missing_drop_line_breaks_the_documents_identity(tmp_path, tokenizer_model):
    out = _corpus(tmp_path, tokenizer_model, drops=DROPS[:2])
    with pytest.raises(AccountingError, match=r"^documents: extracted 7 != dropped 2 \+ kept 4$"):
        _assemble(out)


def test_a_missing_quarantine_line_breaks_the_raw_identity(tmp_path, tokenizer_model):
    out = _corpus(tmp_path, tokenizer_model, quarantined=())
    with pytest.raises(AccountingError, match=r"^raw records: in 8 != excluded 2 \+ superseded 1 \+ quarantined 0 "
                                              r"\+ extracted 4$"):
        _assemble(out)


def test_a_kept_document_that_was_not_tokenized_is_an_error(tmp_path, tokenizer_model):
    untokenized = {k: v for k, v in TOKENS_STATS.items() if not k.endswith("abstracts\tvalidation")}
    out = _corpus(tmp_path, tokenizer_model, tokens_stats=untokenized)
    with pytest.raises(AccountingError, match=r"^documents: kept 4 but 3 were tokenized$"):
        _assemble(out)


def test_every_broken_identity_is_named_in_one_error(tmp_path, tokenizer_model):
    out = _corpus(tmp_path, tokenizer_model, quarantined=(), kept=KEPT + [("p9", "pubmed", "abstracts", "en")])
    with pytest.raises(AccountingError) as err:
        _assemble(out)
    assert str(err.value).split("; ") == [
        "raw records: in 8 != excluded 2 + superseded 1 + quarantined 0 + extracted 4",
        "documents: extracted 7 != dropped 3 + kept 5", "documents: kept 5 but 4 were tokenized"]


def test_disabled_stages_appear_only_when_they_dropped_something(tmp_path, tokenizer_model):
    cfg = validate_config({"dedup": {"exact": False, "near": False}})
    assert enabled_stages(cfg) == [s for s in STAGE_ORDER
                                   if s not in (stages.DEDUP_EXACT, stages.DEDUP_NEAR, stages.DECONTAMINATE)]
    m = _assemble(_corpus(tmp_path, tokenizer_model), cfg)
    # dedup_exact is off but its drop file has a line: it is counted, in its place in the order
    assert "dedup_near" not in m["stages"] and "decontaminate" not in m["stages"]
    assert m["stage_order"][-2:] == ["dedup_exact", "language"]
    assert (m["stages"]["dedup_exact"]["docs_in"], m["stages"]["language"]["docs_out"]) == (5, 4)


def test_a_stage_outside_the_known_order_comes_last(tmp_path, tokenizer_model):
    custom = Drop(doc_id="c2", source="cdc", subset="guidelines", stage="zz_custom", reason="odd", chars=10)
    out = _corpus(tmp_path, tokenizer_model, drops=DROPS + [custom], kept=KEPT[1:],
                  tokens_stats={**TOKENS_STATS, "tokens\tcdc\tguidelines\ttrain": [1, 0, 300]})
    m = _assemble(out)
    assert m["stage_order"][-1] == "zz_custom"
    assert m["stages"]["zz_custom"] == {"docs_in": 4, "docs_out": 3, "dropped": {"odd": 1}, "dropped_chars": 10,
                                        "dropped_tokens_estimate": 3}  # round(10 * 400 / 1400)


def test_stats_of_several_phase_files_are_summed(tmp_path):
    _write_json(tmp_path / "_build" / "stats-extract.json", {"raw_in\tcdc": [3, 30, 0], "extracted\tcdc\tguidelines":
                                                             [2, 20, 0]})
    _write_json(tmp_path / "_build" / "stats-dedup.json", {"raw_in\tcdc": [4, 5, 6], "kept_chars\tcdc": [1, 9, 0]})
    _write_json(tmp_path / "_build" / "stats-tokens.json", {"raw_in\tcdc": [1, 1, 1]})
    _write_json(tmp_path / "_build" / "shards.json", [{"raw_in\tcdc": [100, 0, 0]}])  # not a stats file
    assert load_stats(str(tmp_path)) == {("raw_in", "cdc"): (8, 36, 7), ("extracted", "cdc", "guidelines"): (2, 20, 0),
                                         ("kept_chars", "cdc"): (1, 9, 0)}
    assert load_stats(str(tmp_path / "nothing")) == {}


def test_raw_counts_split_over_phase_files_still_balance(tmp_path, tokenizer_model):
    out = _corpus(tmp_path, tokenizer_model)
    # cdc's superseded count written by another phase file: summed, the accounting still adds up
    extract = {k: v for k, v in EXTRACT_STATS.items() if k != "raw_superseded\tcdc"}
    _write_json(out / "_build" / "stats-extract.json", extract)
    with pytest.raises(AccountingError, match="superseded 0"):
        _assemble(out)
    _write_json(out / "_build" / "stats-versions.json", {"raw_superseded\tcdc": [1, 0, 0]})
    assert _assemble(out)["accounting"]["raw_records"]["superseded"] == 1


def test_pack_waste_per_subset_in_total_and_per_split():
    stats = {tuple(k.split("\t")): tuple(v) for k, v in TOKENS_STATS.items()}
    assert pack_waste(stats) == {
        "abstracts": {"tail_waste_tokens": 8, "tail_waste_tokens_train": 3, "tail_waste_tokens_validation": 5},
        "guidelines": {"tail_waste_tokens": 7, "tail_waste_tokens_train": 7}}
    assert pack_waste({("tokens", "cdc", "guidelines", "train"): (2, 0, 300)}) == {}


def test_drops_stream_one_file_at_a_time_in_name_order(tmp_path):
    odd = Drop(doc_id="d\u2028x", source="cdc", subset="guidelines", stage="quality", reason="too_short",
               detail="a\u2029b\x1cc")
    (tmp_path / "dropped").mkdir()
    (tmp_path / "dropped" / "dropped-b.jsonl").write_text("this file is not JSON Lines\n", encoding="utf-8")
    (tmp_path / "dropped" / "dropped-a.jsonl").write_text(
        "".join(d.to_json() + "\n" for d in [DROPS[1], odd]) + "\n", encoding="utf-8")  # blank last line
    (tmp_path / "dropped" / "notes.txt").write_text("not a drop file", encoding="utf-8")
    drops = iter_drops(str(tmp_path))
    # a generator: the first file's drops come out, split on "\n" only, before the second file is read
    assert next(drops) == DROPS[1] and next(drops) == odd
    with pytest.raises(AccountingError, match=r"dropped-b\.jsonl line 1: not a drop record"):
        next(drops)
    assert list(iter_drops(str(tmp_path / "empty"))) == []


@pytest.mark.parametrize("line", ['{"doc_id": "d1"}', '{"doc_id": "d1", "source": "s", "subset": "papers", '
                                  '"stage": "quality", "reason": "r", "colour": "red"}', "[1, 2]"])
def test_a_damaged_drop_line_is_named_by_file_and_line(tmp_path, line):
    (tmp_path / "dropped").mkdir()
    (tmp_path / "dropped" / "dropped-x.jsonl").write_text(DROPS[0].to_json() + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(AccountingError, match=r"dropped-x\.jsonl line 2: not a drop record \(.+\)$"):
        list(iter_drops(str(tmp_path)))


def test_gap_build_reports_an_accounting_error_in_one_line(tmp_path, monkeypatch, capsys):
    from gap_pipeline import build
    from gap_pipeline.cli import main

    def unbalanced(*args, **kwargs):
        raise AccountingError("documents: extracted 7 != dropped 2 + kept 4")
    monkeypatch.setattr(build, "run_build", unbalanced)
    assert main(["build", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err == "gap build: error: documents: extracted 7 != dropped 2 + kept 4\n"


def test_duplicate_clusters_are_summed_per_stage_and_size_in_size_order():
    stats = {("dedup_cluster", "dedup_near", "10"): (1, 0, 0), ("dedup_cluster", "dedup_near", "2"): (4, 0, 0),
             ("dedup_cluster", "dedup_exact", "2"): (3, 0, 0), ("kept_chars", "cdc"): (5, 100, 0)}
    clusters = duplicate_clusters(stats)
    assert clusters == {"dedup_exact": {"2": 3}, "dedup_near": {"2": 4, "10": 1}}
    assert list(clusters["dedup_near"]) == ["2", "10"]  # by size, not as strings sort
    assert duplicate_clusters({}) == {}
