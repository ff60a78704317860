"""Decontamination against the tiny made-up benchmark fixture."""
from __future__ import annotations

from pathlib import Path

import pytest

from schemas.document import Document
from transforms.decontaminate import BenchmarkError, decontaminate_fn, load_benchmark_ngrams

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_medqa.jsonl"


def doc(text):
    return Document(id="d", source="s", subset="papers", title="", text=text)


def test_document_quoting_a_question_is_dropped_with_the_item():
    index = load_benchmark_ngrams([FIXTURE], 13)
    assert index.items == 3 and len(index) > 0
    fn = decontaminate_fn(index, 13)
    leaked = ("Teaching case. A 6-year-old girl has a barking cough, inspiratory stridor and low-grade fever "
              "that worsen at night. Discussion follows.")
    drop = fn(doc(leaked))
    assert drop.reason == "benchmark_overlap" and drop.stage == "decontaminate"
    assert drop.detail == "tiny_medqa.jsonl:q2"
    # an item without an id is named by its line; a context passage counts too
    context = "Background: in a made-up trial of healthy older adults, daily low dose aspirin did not reduce cardiovascular events."
    assert fn(doc(context)).detail == "tiny_medqa.jsonl:line3"


def test_twelve_shared_words_are_not_enough():
    fn = decontaminate_fn(load_benchmark_ngrams([FIXTURE], 13), 13)
    twelve = "crushing substernal chest pain radiating to the left arm for two hours. Which"  # 13 tokens
    assert fn(doc(twelve)).reason == "benchmark_overlap"
    assert isinstance(fn(doc("crushing substernal chest pain radiating to the left arm for two hours")), Document)


def test_bad_benchmark_files_are_reported(tmp_path):
    with pytest.raises(BenchmarkError, match="not found"):
        load_benchmark_ngrams([tmp_path / "missing.jsonl"], 13)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok"}\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(BenchmarkError, match="bad.jsonl:2"):
        load_benchmark_ngrams([bad], 13)
    with pytest.raises(BenchmarkError, match="13-grams"):
        decontaminate_fn(load_benchmark_ngrams([FIXTURE], 13), 8)
