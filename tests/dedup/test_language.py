"""Language stage: seeded, windowed langdetect; reasons; accuracy on real multilingual text; CLI."""
from __future__ import annotations

import json
import subprocess
import sys

from schemas.document import Document
from tests.dedup.langid_set import documents, lingua_sentences
from transforms.language import (LanguageSettings, detect_language, language_decision, language_fn,
                                 sample_windows)

EN = ("Adults with community acquired pneumonia should receive amoxicillin for five days unless they "
      "have a penicillin allergy; review the patient at 48 hours and extend treatment if needed. ")
ES = ("Los adultos con neumonía adquirida en la comunidad deben recibir amoxicilina durante cinco días "
      "salvo alergia a la penicilina; revise al paciente a las 48 horas y prolongue el tratamiento. ")


def doc(text):
    return Document(id="d", source="s", subset="papers", title="", text=text)


def test_windows_are_bounded_and_spread_over_the_text():
    text = EN * 40 + ES * 40 + EN * 40
    sample = sample_windows(text, 400, 5)
    assert len(sample) <= 5 * 400 + 20
    assert "neumonía" in sample and sample.startswith("Adults")
    assert sample_windows("short text", 400, 5) == "short text"


def test_language_fn_sets_fields_and_drops_with_reasons():
    fn = language_fn(LanguageSettings())
    kept = fn(doc(EN * 3))
    assert kept.lang == "en" and kept.lang_score >= 0.8
    dropped = fn(doc(ES * 3))
    assert dropped.reason == "lang_es" and dropped.stage == "language"
    assert fn(doc("Fig. 3")).reason == "too_short"
    assert fn(doc("12345 67890 " * 30)).reason == "too_short"  # digits only: no letters to judge
    assert language_decision("en", 0.6, LanguageSettings()) == "low_confidence"
    assert language_decision("und", 0.0, LanguageSettings()) == "low_confidence"
    assert language_decision("fr", 0.99, LanguageSettings(allowed=("en", "fr"))) is None
    keep_short = language_fn({"allowed": ["en"], "min_prob": 0.8, "window_chars": 400, "max_windows": 5,
                              "short_text_chars": 60, "allow_short": True})
    assert keep_short(doc("Fig. 3")).lang == "und"


def test_same_answer_every_time_for_ambiguous_text():
    mixed = "Der Patient received Antibiotika und the infection cleared nach zehn Tagen im hospital ward."
    results = {detect_language(mixed, LanguageSettings(short_text_chars=20)) for _ in range(5)}
    assert len(results) == 1


def test_english_vs_rest_accuracy_on_real_documents(realdata):
    settings = LanguageSettings()
    docs = documents(realdata, per_group=8)
    correct = sum((detect_language(text, settings)[0] == "en") == (code == "en") for code, _, text in docs)
    assert correct / len(docs) >= 0.95


def test_english_vs_rest_accuracy_on_lingua_sentences(realdata):
    settings = LanguageSettings(short_text_chars=20)  # these are single sentences
    items = [i for i in lingua_sentences(realdata, per_language=4) if i[0] in {"en", "de", "fr", "es", "it", "nl", "pt"}]
    correct = sum((detect_language(t, settings)[0] == "en") == (code == "en") for code, _, t in items)
    assert correct / len(items) >= 0.9


def test_langid_cli_plain_and_jsonl():
    proc = subprocess.run([sys.executable, "-m", "gap_pipeline.cli", "langid"], input=ES * 2,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and json.loads(proc.stdout.strip().splitlines()[-1])["lang"] == "es"
    lines = json.dumps({"id": "x", "text": EN}) + "\n" + "not json\n"
    proc = subprocess.run([sys.executable, "-m", "gap_pipeline.cli", "langid", "--jsonl"], input=lines,
                          capture_output=True, text=True, timeout=120)
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert out[0]["id"] == "x" and out[0]["lang"] == "en"
    assert out[1]["error"] and proc.returncode == 1 and "line 2" in proc.stderr


def test_fast_path_answers_exactly_as_langdetect(realdata):
    """The numpy re-implementation returns langdetect's (language, probability), value for value."""
    from transforms.language import _fast_langdetect, _langdetect

    texts = [t for _, _, t in documents(realdata, per_group=3)]
    texts += [t for code, _, t in lingua_sentences(realdata, per_language=1)]  # 75 scripts incl. CJK, Arabic
    samples = [sample_windows(t, 200, 5) for t in texts] + [texts[0][:12000], "", "WHO CDC NICE", "http://a.org x@y.com"]
    for sample in samples:
        for trials in (1, 2):
            assert _fast_langdetect(sample, 0, trials) == _langdetect(sample, 0, trials), sample[:80]
    assert _fast_langdetect(ES * 3, 5, 7) == _langdetect(ES * 3, 5, 7)
