"""`gap verify` on a small built corpus: clean, then with one thing broken at a time."""
from __future__ import annotations

import json
import shutil

import pytest

from gap_pipeline.cli import main
from schemas.events import Drop
from testkit.tail_build import build_fake_out, corpus_fixtures, run_verify
from testkit.shard_docs import make_docs


def fake_drops(docs):
    kept = docs[:3]
    return [Drop(doc_id=f"gone{i}", source=d.source, subset=d.subset, stage=stage, reason=reason, chars=100,
                 detail=detail)
            for i, (d, stage, reason, detail) in enumerate([
                (kept[0], "quality", "too_short", ""), (kept[1], "dedup_near", "near_duplicate", kept[0].id),
                (kept[1], "dedup_near", "near_duplicate", kept[0].id), (kept[2], "language", "not_allowed:es", ""),
            ])]


def _build(out):
    docs = make_docs(n_per_subset=12)
    build_fake_out(docs, out, drops=fake_drops(docs), target_bytes=8192)


pristine, corpus = corpus_fixtures("corpus", _build)


def _manifest(out):
    return json.loads((out / "manifest.json").read_text())


def test_clean_corpus_verifies(corpus, capsys):
    code, text = run_verify(corpus, capsys)
    assert code == 0, text
    assert "OK" in text


def test_flipped_byte_is_caught(corpus, capsys):
    shard = _manifest(corpus)["shards"][0]
    path = corpus / shard["path"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    code, text = run_verify(corpus, capsys)
    assert code == 1
    assert f"checksum mismatch: {shard['path']} has sha256" in text


def test_missing_shard_is_caught(corpus, capsys):
    shard = _manifest(corpus)["shards"][-1]
    (corpus / shard["path"]).unlink()
    code, text = run_verify(corpus, capsys)
    assert code == 1
    assert f"missing shard: {shard['path']} is listed in manifest.json but not on disk" in text


def test_wrong_counts_are_caught(corpus, capsys):
    manifest = _manifest(corpus)
    manifest["shards"][0]["rows"] += 1
    manifest["accounting"]["documents"]["kept"] += 1
    (corpus / "manifest.json").write_text(json.dumps(manifest))
    code, text = run_verify(corpus, capsys)
    assert code == 1
    shard = manifest["shards"][0]
    assert f"row count: {shard['path']} has {shard['rows'] - 1} rows, manifest says {shard['rows']}" in text
    assert "accounting: documents extracted" in text
    assert "documents/*.parquet holds" in text


def test_unlisted_shard_tokenizer_and_drops_are_caught(corpus, capsys):
    shard = _manifest(corpus)["shards"][0]
    shutil.copy(corpus / shard["path"], corpus / "train" / "train-99999-of-99999.arrow")
    (corpus / "tokenizer.model").write_bytes(b"junk")
    with open(next((corpus / "dropped").glob("*.jsonl")), "a") as f:
        f.write(fake_drops(make_docs(n_per_subset=1))[0].to_json() + "\n")
    code, text = run_verify(corpus, capsys)
    assert code == 1
    assert "unlisted shard: train/train-99999-of-99999.arrow" in text
    assert "checksum mismatch: tokenizer.model" in text
    assert "dropped/*.jsonl holds 5 drops, manifest says 4" in text


def test_missing_manifest(tmp_path, capsys):
    code, text = run_verify(tmp_path, capsys)
    assert code == 1 and "no manifest" in text and "does not exist" in text
    (tmp_path / "manifest.json").mkdir()
    code, text = run_verify(tmp_path, capsys)
    assert code == 1 and f"no manifest: {tmp_path / 'manifest.json'} is a folder, not a file" in text


# ------------------------------------------------------------------ issue 15: a verify that trusts nothing

def _save(out, manifest):
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def _problems(corpus, capsys):
    code, text = run_verify(corpus, capsys)
    assert code == 1, text
    assert "Traceback" not in text
    return text


def test_edited_config_with_the_old_hash_is_caught(corpus, capsys):
    manifest = _manifest(corpus)
    manifest["config"]["quality"]["min_words"] = 1
    _save(corpus, manifest)
    text = _problems(corpus, capsys)
    assert f"config hash: the stored config hashes to" in text
    assert f"manifest config_hash says {manifest['config_hash']}" in text


def test_consistent_edits_to_the_accounting_are_caught(corpus, capsys):
    """One drop turned into a kept document everywhere in the manifest: every identity still holds, but the
    drop files and documents/ say otherwise."""
    manifest = _manifest(corpus)
    stage = "quality"
    manifest["stages"][stage]["dropped"]["too_short"] -= 1
    moved = False
    for s in manifest["stages"].values():
        if moved:
            s["docs_in"] += 1
        if s is manifest["stages"][stage]:
            moved = True
        if moved:
            s["docs_out"] += 1
    docs = manifest["accounting"]["documents"]
    docs["dropped"] -= 1
    docs["kept"] += 1
    docs["tokenized"] += 1
    source = manifest["sources"]["who"]
    source["dropped"][stage]["too_short"] -= 1
    source["documents_kept"] += 1
    _save(corpus, manifest)
    text = _problems(corpus, capsys)
    assert "accounting: stage quality: dropped/*.jsonl holds drops {'too_short': 1}, manifest says {}" in text
    assert "accounting: dropped/*.jsonl holds 4 drops, manifest says 3" in text
    assert "accounting: source who keeps 13 documents, documents/*.parquet holds 12 of it" in text


def test_per_source_counts_plus_100_are_caught(corpus, capsys):
    manifest = _manifest(corpus)
    pmc = manifest["sources"]["pmc"]
    for key in ("raw_records", "raw_extracted", "documents_extracted", "documents_kept"):
        pmc[key] += 100
    _save(corpus, manifest)
    text = _problems(corpus, capsys)
    assert "accounting: source pmc keeps 112 documents, documents/*.parquet holds 12 of it" in text
    assert f"accounting: sources' raw_records add up to {manifest['accounting']['raw_records']['in'] + 100}" in text
    assert "accounting: sources' documents_kept add up to" in text


def test_edited_drop_reason_is_caught(corpus, capsys):
    path = next((corpus / "dropped").glob("*.jsonl"))
    path.write_bytes(path.read_bytes().replace(b'"too_short"', b'"too_long"'))
    text = _problems(corpus, capsys)
    assert f"checksum mismatch: dropped/{path.name} has sha256" in text
    assert "accounting: stage quality: dropped/*.jsonl holds drops {'too_long': 1}, manifest says {'too_short': 1}" \
        in text


def test_document_text_replaced_in_parquet_is_caught(corpus, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = next((corpus / "documents").glob("*.parquet"))
    table = pq.read_table(path)
    texts = table.column("text").to_pylist()
    texts[3] = "Buy cheap pills now. " * 20
    table = table.set_column(table.schema.get_field_index("text"), "text", pa.array(texts, pa.string()))
    pq.write_table(table, path)
    text = _problems(corpus, capsys)
    assert f"checksum mismatch: documents/{path.name} has sha256" in text


def test_stray_and_extra_files_are_reported(corpus, capsys):
    shard = _manifest(corpus)["shards"][0]
    shutil.copy(corpus / shard["path"], corpus / "stray.arrow")
    (corpus / "documents" / "extra.parquet").write_bytes(b"PAR1")
    (corpus / "_build").mkdir(exist_ok=True)
    (corpus / "_build" / "stats.json").write_text("{}")       # the build's own working area
    (corpus / "report").mkdir(exist_ok=True)
    (corpus / "report" / "report.md").write_text("# report")  # written later by gap report
    text = _problems(corpus, capsys)
    assert "unexpected file: stray.arrow is in the corpus but not listed in manifest.json" in text
    assert "unexpected file: documents/extra.parquet" in text
    assert "_build" not in text and "report.md" not in text


def test_paths_leaving_the_corpus_are_refused_and_not_read(corpus, capsys, tmp_path):
    manifest = _manifest(corpus)
    manifest["shards"][0]["path"] = "../../../../etc/passwd"
    manifest["shards"][1]["path"] = "/etc/passwd"
    manifest["shards"][2]["path"] = "train/a\x00b.arrow"
    first_file = sorted(manifest["files"])[0]
    manifest["files"]["../outside.jsonl"] = manifest["files"].pop(first_file)
    _save(corpus, manifest)
    text = _problems(corpus, capsys)
    assert "unsafe path: manifest.json lists '../../../../etc/passwd', not a plain relative path" in text
    assert "unsafe path: manifest.json lists '/etc/passwd', an absolute path" in text
    assert "unsafe path: manifest.json lists '../outside.jsonl'" in text
    assert "unsafe path: manifest.json lists 'train/a\\x00b.arrow', not a path" in text
    assert "passwd has sha256" not in text and "missing shard: ../" not in text
    assert f"unexpected file: {first_file}" in text


def test_symlinks_out_of_the_corpus_are_refused(corpus, capsys, tmp_path):
    outside = tmp_path / "outside.arrow"
    manifest = _manifest(corpus)
    shard = manifest["shards"][0]["path"]
    shutil.move(corpus / shard, outside)
    (corpus / shard).symlink_to(outside)
    (corpus / "notes").symlink_to(tmp_path, target_is_directory=True)
    text = _problems(corpus, capsys)
    assert f"unsafe path: manifest.json lists '{shard}', a link that leads out of the corpus" in text
    assert f"link out of the corpus: {shard} leads outside" in text
    assert "link out of the corpus: notes leads outside" in text


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["shards"][0].__setitem__("rows", "12"), "manifest: shards.0.rows: '12' is not of type 'integer'"),
    (lambda m: m.__setitem__("tokenizer", []), "manifest: tokenizer: [] is not of type 'object'"),
    (lambda m: m["accounting"]["documents"].__setitem__("kept", None), "manifest: accounting.documents.kept: None"),
    (lambda m: m["shards"][0].__setitem__("sha256", 5), "manifest: shards.0.sha256: 5 is not of type 'string'"),
    (lambda m: m.pop("files"), "manifest: top level: 'files' is a required property"),
    (lambda m: m["sources"]["pmc"].__setitem__("dropped", [1]), "manifest: sources.pmc.dropped: [1] is not of type"),
])
def test_wrong_types_in_the_manifest_are_one_line_each(corpus, capsys, edit, message):
    manifest = _manifest(corpus)
    edit(manifest)
    _save(corpus, manifest)
    text = _problems(corpus, capsys)
    assert message in text


def test_a_manifest_that_is_not_an_object(corpus, capsys):
    (corpus / "manifest.json").write_text("[1, 2]")
    assert "manifest: top level: [1, 2] is not of type 'object'" in _problems(corpus, capsys)
    (corpus / "manifest.json").write_bytes(b"\xff\xfe")
    assert "manifest.json is not valid JSON" in _problems(corpus, capsys)
