"""`gap report`: report.md, valid PNG plots and a data card that matches the corpus."""
from __future__ import annotations

import struct

import pytest

from gap_pipeline.cli import main
from gap_pipeline.report import PLOTS, collect
from tests.shards.build import build_fake_out
from tests.shards.corpus import make_docs
from tests.shards.test_verify import fake_drops

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
    assert sorted(sum(data["lengths"].values(), [])) == sorted(len(d.text) for d in docs)
    assert data["languages"] == {"en": len(docs)}
    assert data["dropped_languages"] == {"es": 1}
    assert data["drops"][("quality", "too_short")] == 1


def test_report_without_manifest(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    assert "no manifest" in capsys.readouterr().err
