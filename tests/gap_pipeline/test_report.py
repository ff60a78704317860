"""`gap report`: report.md, valid PNG plots and a data card that matches the corpus."""
from __future__ import annotations

import collections
import struct

import pytest

from gap_pipeline.cli import main
from gap_pipeline.report import PLOTS, ReportError, bin_edges, collect, length_bin, median_length
from testkit.tail_build import build_fake_out
from testkit.shard_docs import make_docs
from tests.gap_pipeline.test_verify import fake_drops

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    docs = make_docs(n_per_subset=10)
    out = tmp_path_factory.mktemp("corpus")
    build_fake_out(docs, out, drops=fake_drops(docs))
    return out, docs


def test_report_files_are_present_and_valid(corpus):
    out, docs = corpus
    assert main(["report", str(out)]) == 0
    folder = out / "report"
    text = (folder / "report.md").read_text()
    for name, _, title in PLOTS:
        data = (folder / name).read_bytes()
        assert data[:8] == PNG_MAGIC, name
        width, height = struct.unpack(">II", data[16:24])  # IHDR: a real, readable-sized image
        assert width >= 800 and height >= 300, (name, width, height)
        assert f"![{title}]({name})" in text
    # The data card names every source with its licence and the redistributable share.
    for source, licence in (("who", "CC-BY-NC-SA-3.0-IGO"), ("pmc", "CC-BY-4.0"), ("pubmed", "public-domain")):
        assert f"| {source} |" in text and licence in text
    n_open = sum(d.source != "who" for d in docs)
    assert f"{n_open} of {len(docs)} kept documents" in text
    assert "dedup_near" in text and "near_duplicate: 2" in text


def test_collect_counts_clusters_lengths_and_languages(corpus):
    out, docs = corpus
    data = collect(out)
    assert data["near_clusters"] == {3: 1}  # one survivor with two near-duplicates dropped
    by_subset = collections.defaultdict(collections.Counter)
    for d in docs:
        by_subset[d.subset][length_bin(len(d.text))] += 1
    assert data["lengths"] == {subset: dict(bins) for subset, bins in by_subset.items()}
    assert data["languages"] == {"en": len(docs)}
    assert data["dropped_languages"] == {"es": 1}
    assert data["drops"][("quality", "too_short")] == 1


def test_report_without_manifest(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    assert "no manifest" in capsys.readouterr().err


# --- dataset card and Hugging Face datasets -----------------------------------------------------------

def _split_rows(out, split):
    import json
    manifest = json.loads((out / "manifest.json").read_text())
    return sum(s["rows"] for s in manifest["shards"] if s["split"] == split)


def test_dataset_card_parses_with_huggingface_hub(corpus, capsys):
    hub = pytest.importorskip("huggingface_hub")
    out, docs = corpus
    assert main(["report", str(out), "--no-plots"]) == 0
    assert "dataset card" in capsys.readouterr().out
    meta = hub.metadata_load(out / "README.md")
    assert meta["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": "train/*.arrow"}, {"split": "validation", "path": "validation/*.arrow"}]}]
    assert meta["language"] == ["en"] and meta["license"] == "other" and meta["size_categories"] == ["n<1K"]
    card = hub.DatasetCard.load(out / "README.md")
    assert card.data.to_dict()["task_categories"] == ["text-generation"]
    assert "## Data card" in card.text and "| pmc |" in card.text and "CC-BY-4.0" in card.text


def test_datasets_loads_the_corpus_folder_and_streams_the_shards(corpus, tmp_path):
    datasets = pytest.importorskip("datasets")
    import glob

    from transforms.shards import read_shard

    out, _ = corpus
    assert main(["report", str(out), "--no-plots"]) == 0
    ds = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))   # configs from README.md
    assert {k: len(v) for k, v in ds.items()} == {"train": _split_rows(out, "train"),
                                                  "validation": _split_rows(out, "validation")}
    files = sorted(glob.glob(str(out / "train" / "*.arrow")))
    expected = [r for f in files for r in read_shard(f).column("input_ids").to_pylist()]
    by_files = datasets.load_dataset("arrow", data_files={"train": files}, cache_dir=str(tmp_path / "cache2"))
    assert by_files["train"]["input_ids"] == expected
    stream = datasets.load_dataset("arrow", data_files={"train": files}, streaming=True)["train"]
    rows = list(stream)
    assert [r["input_ids"] for r in rows] == expected
    assert set(rows[0]) >= {"input_ids", "subset", "doc_ids", "doc_starts"}


def test_a_readme_gap_did_not_write_is_left_alone(corpus, tmp_path, capsys):
    import shutil
    out = tmp_path / "copy"
    shutil.copytree(corpus[0], out)
    (out / "README.md").write_text("# my notes\n")
    assert main(["report", str(out), "--no-plots"]) == 0
    assert (out / "README.md").read_text() == "# my notes\n"
    assert "was not written by gap" in capsys.readouterr().err


def _damaged_copy(corpus, tmp_path, damage):
    import shutil
    out = tmp_path / "copy"
    shutil.copytree(corpus[0], out)
    shutil.rmtree(out / "report", ignore_errors=True)  # written by the tests above
    (out / "README.md").unlink(missing_ok=True)
    damage(out)
    return out


@pytest.mark.parametrize("damage, message", [
    (lambda out: sorted((out / "documents").glob("*.parquet"))[0].write_bytes(b"PAR1 cut"),
     "not a readable documents file"),
    (lambda out: sorted((out / "dropped").glob("*.jsonl"))[0].open("a").write("{bad\n"), "is not a drop record"),
    (lambda out: sorted((out / "dropped").glob("*.jsonl"))[0].open("ab").write(b"\xff\n"), "is not valid UTF-8"),
    (lambda out: sorted((out / "dropped").glob("*.jsonl"))[0].open("a").write("[1]\n"), "is not a drop record"),
    (lambda out: (out / "report").write_text("mine\n"), "report is a file, not a folder"),
    (lambda out: sorted((out / "documents").glob("*.parquet"))[-1].unlink(), "listed in manifest.json, is missing"),
    (lambda out: sorted((out / "dropped").glob("*.jsonl"))[0].unlink(), "listed in manifest.json, is missing"),
])
def test_a_damaged_corpus_is_one_line_naming_the_file(corpus, tmp_path, capsys, damage, message):
    out = _damaged_copy(corpus, tmp_path, damage)
    assert main(["report", str(out), "--no-plots"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("gap report: ") and message in err and err.count("\n") == 1, err


def test_a_readme_folder_is_left_alone(corpus, tmp_path, capsys):
    out = _damaged_copy(corpus, tmp_path, lambda out: (out / "README.md").mkdir())
    assert main(["report", str(out), "--no-plots"]) == 0
    assert (out / "README.md").is_dir() and not (out / "README.md.tmp").exists()
    assert "was not written by gap" in capsys.readouterr().err


def test_lengths_are_counted_in_log_bins_and_the_median_is_within_its_bin():
    assert [length_bin(n) for n in (0, 1, 9, 10, 11, 999, 1000, 1_000_000)] == [0, 0, 19, 20, 20, 59, 60, 120]
    edges = bin_edges(60, 61)
    assert len(edges) == 3 and edges[0] == 1000 and edges[1] < 1000 * 1.13
    lengths = [120, 900, 1000, 1010, 1100, 5000, 80_000]
    bins = collections.Counter(length_bin(n) for n in lengths)
    median = median_length(dict(bins))
    assert bin_edges(length_bin(1010), length_bin(1010))[0] <= median < bin_edges(length_bin(1010), length_bin(1010))[1]
    assert median_length({}) == 0.0


def test_cluster_sizes_come_from_the_manifest_when_the_build_counted_them(corpus, tmp_path):
    import json
    out = _damaged_copy(corpus, tmp_path, lambda out: None)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["dedup"] = {**manifest.get("dedup", {}), "clusters": {"dedup_near": {"5": 2}, "dedup_exact": {}}}
    (out / "manifest.json").write_text(json.dumps(manifest))
    data = collect(out)
    assert data["near_clusters"] == {5: 2} and data["exact_clusters"] == {}  # not recounted from the drops
    manifest["dedup"]["clusters"] = {"dedup_near": {"five": 2}}
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ReportError, match="dedup.clusters is not a count per stage and cluster size"):
        collect(out)
