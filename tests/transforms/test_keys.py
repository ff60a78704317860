"""Cross-document decisions on key records (transforms/keys.py) equal the plain functions that decide on
whole documents: exact dedup, near dedup, abstracts with full text, PubMed update files."""
from __future__ import annotations

import random

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from schemas.document import Document
from transforms.dedup.exact import choose_survivors
from transforms.dedup.near import MinHashParams, candidate_edges, near_duplicates, sketch
from transforms.extract.medline import UPDATE_LIST_KEY, apply_pubmed_updates, drop_abstracts_with_full_text
from transforms.keys import (DROPPED, KEPT, ExactDedupKeys, FullTextKeys, NearDedupKeys, PubmedUpdateKeys,
                             candidate_refs, cluster_size_stats, doc_key)

PRIORITY = {"guidelines": 0, "papers": 1, "abstracts": 2, "replay": 3}
WORDS = [f"w{i}" for i in range(400)]


def _text(rng: random.Random, n: int = 120) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _doc(i: int, subset: str, text: str, **meta) -> Document:
    return Document(id=f"d{i:03d}", source=f"s{i % 3}", subset=subset, title="", text=text, url="", license="cc0",
                    lang="en", lang_score=1.0, meta=meta)


def _corpus() -> list[Document]:
    rng = random.Random(7)
    docs = []
    for i in range(40):
        docs.append(_doc(i, ["guidelines", "papers", "replay"][i % 3], _text(rng), year=2000 + i % 20))
    for i in range(10):  # exact copies (case and spacing differ)
        docs.append(_doc(100 + i, "replay", "  " + docs[i].text.upper() + " "))
    for i in range(10):  # near copies: 1 of 120 words changed (Jaccard ~0.92)
        words = docs[10 + i].text.split()
        for j in rng.sample(range(len(words)), 1):
            words[j] = rng.choice(WORDS)
        docs.append(_doc(200 + i, "guidelines", " ".join(words)))
    return docs


def _check(transform_input, transform, want_kept: list[str], want_dropped: list[tuple]) -> None:
    """Run `transform` and assert its kept ids and drops (id, stage, reason, detail, chars)."""
    with beam.Pipeline(runner="FnApiRunner") as p:
        out = transform_input(p) | transform
        assert_that(out[KEPT] | "K" >> beam.Map(lambda k: k.id), equal_to(want_kept), label="kept")
        assert_that(out[DROPPED] | "D" >> beam.MapTuple(lambda k, d: (d.doc_id, d.stage, d.reason, d.detail, d.chars)),
                    equal_to(want_dropped), label="dropped")


def test_exact_dedup_on_keys_equals_the_document_version():
    docs = _corpus()
    keys = [doc_key(d, 0, i, PRIORITY, exact=True) for i, d in enumerate(docs)]
    want_kept, want_dropped = choose_survivors(docs, PRIORITY)
    assert len(want_dropped) == 10
    _check(lambda p: p | beam.Create(keys), ExactDedupKeys(), [d.id for d in want_kept],
           [(d.id, "dedup_exact", "exact_duplicate", winner, len(d.text)) for d, winner in want_dropped])


def test_near_dedup_on_sketches_equals_the_document_version():
    docs = _corpus()[:40] + _corpus()[50:]  # no exact copies: near copies only
    params = MinHashParams(threshold=0.8)
    keys = [doc_key(d, 0, i, PRIORITY) for i, d in enumerate(docs)]
    entries, payloads = sketch(docs, params, PRIORITY)
    with beam.Pipeline(runner="FnApiRunner") as p:
        key_pc = p | "Keys" >> beam.Create(keys)
        candidates = candidate_edges(p | "Entries" >> beam.Create(entries))
        refs = candidate_refs(candidates, key_pc)
        # Payloads are needed only for the documents of candidate pairs, not for every document.
        assert_that(refs | "Count" >> beam.combiners.Count.Globally(),
                    lambda counts: None if 20 <= counts[0] < len(docs) else (_ for _ in ()).throw(
                        AssertionError(f"{counts[0]} payloads for {len(docs)} documents")), label="few payloads")
        by_ref = {(0, i): payload for i, payload in enumerate(dict(payloads)[d.id] for d in docs)}
        wanted = refs | "Payloads" >> beam.Map(lambda ref: (docs[ref[1]].id, by_ref[ref]))
        out = (key_pc, candidates, wanted) | NearDedupKeys(params)
        want = sorted(near_duplicates(docs, params, PRIORITY).items())
        assert len(want) >= 8
        assert_that(out[DROPPED] | beam.MapTuple(lambda k, d: (d.doc_id, d.detail)), equal_to(want))


def test_full_text_on_keys_equals_the_document_version():
    rng = random.Random(3)
    docs = [_doc(i, "papers", _text(rng), pmid=str(1000 + i)) for i in range(5)]
    docs += [_doc(10 + i, "abstracts", _text(rng), pmid=str(1000 + i * 2)) for i in range(5)]
    docs += [_doc(20, "abstracts", _text(rng), pmcid="4")]
    keys = [doc_key(d, 0, i, PRIORITY) for i, d in enumerate(docs)]
    want_kept, want_dropped = drop_abstracts_with_full_text(docs, stage="fulltext")
    assert len(want_dropped) == 3
    _check(lambda p: p | beam.Create(keys), FullTextKeys("fulltext"), [d.id for d in want_kept],
           [(d.doc_id, d.stage, d.reason, d.detail, d.chars) for d in want_dropped])


def test_pubmed_updates_on_keys_equal_the_document_version():
    from transforms.keys import citation_records
    rng = random.Random(5)
    docs = [_doc(i, "abstracts", _text(rng), pmid=str(i % 4), file_seq=1 + i // 4) for i in range(10)]
    docs.append(_doc(50, "abstracts", "", **{UPDATE_LIST_KEY: {"file_seq": 3, "deleted_pmids": ["1"],
                                                                  "pmids_without_document": ["2"]}}))
    docs.append(_doc(51, "guidelines", _text(rng)))
    tagged = {"citation": [], "event": [], "update_list": [], "other": []}
    for i, d in enumerate(docs):
        for out in citation_records(d, 0, i, PRIORITY):
            tagged[out.tag].append(out.value)
    assert tagged["other"] == []  # a document that is not a versioned citation makes no key (it is only counted)
    want_kept, want_dropped = apply_pubmed_updates(docs)
    assert {d.reason for d in want_dropped} == {"superseded", "deleted_citation", "update_list"}
    _check(lambda p: tuple(p | f"C{t}" >> beam.Create(v) for t, v in tagged.items()),
           PubmedUpdateKeys("pubmed_updates"), [d.id for d in want_kept if d.subset == "abstracts"],
           [(d.doc_id, d.stage, d.reason, d.detail, d.chars) for d in want_dropped])


def test_build_dedup_wiring_equals_the_plain_functions():
    """`dedup_decisions` (what a build and `gap dedup-eval` run: full text, exact, near on keys read from a
    part file) decides as exact then near dedup in plain Python, and its router counts every decision."""
    from transforms.dedup.evaluate import dedup_local
    from transforms.keys import decide_on_documents, dedup_decisions
    docs = _corpus()
    params = MinHashParams(threshold=0.8)
    dropped, counters = decide_on_documents(docs, lambda read: dedup_decisions(read, PRIORITY, params))
    want = dedup_local(docs, params, PRIORITY)
    assert len(want) >= 18 and {d.doc_id: d.detail for d in dropped} == want
    assert counters == {"dedup_exact:kept": len(docs) - 10, "dedup_exact:exact_duplicate": 10,
                        "dedup_near:kept": len(docs) - len(want), "dedup_near:near_duplicate": len(want) - 10}
    exact_only, _ = decide_on_documents(docs, lambda read: dedup_decisions(read, PRIORITY, params, near=False))
    assert {d.doc_id for d in exact_only} == {d.id for d, _ in choose_survivors(docs, PRIORITY)[1]}
    assert decide_on_documents(list(reversed(docs)), lambda read: dedup_decisions(read, PRIORITY, params))[0] == dropped


def test_decide_on_documents_counts_pubmed_updates_once_each():
    """Kept citations are counted by the router, documents that are not citations by the key pass, drops
    by the router: together one count per document."""
    from transforms.keys import decide_on_documents, pubmed_update_decisions
    rng = random.Random(11)
    docs = [_doc(i, "abstracts", _text(rng), pmid=str(i % 3), file_seq=1 + i // 3) for i in range(7)]
    docs.append(_doc(60, "abstracts", "", **{UPDATE_LIST_KEY: {"file_seq": 9, "deleted_pmids": ["0"],
                                                                  "pmids_without_document": []}}))
    docs.append(_doc(61, "papers", _text(rng)))
    dropped, counters = decide_on_documents(docs, lambda read: pubmed_update_decisions(read, PRIORITY))
    want_kept, want_dropped = apply_pubmed_updates(docs)
    assert [d.to_json() for d in dropped] == sorted(d.to_json() for d in want_dropped)
    assert counters["pubmed_updates:kept"] == len(want_kept) == 3  # pmids 1 and 2, and the paper
    assert sum(counters.values()) == len(docs)


def test_cluster_size_stats_count_each_survivor_with_its_duplicates():
    from schemas import stages
    from schemas.events import Drop

    def drop(doc_id, stage, detail):
        return Drop(doc_id=doc_id, source="s", subset="papers", stage=stage, reason="r", detail=detail, chars=1)

    drops = [drop("a", stages.DEDUP_NEAR, "w1"), drop("b", stages.DEDUP_NEAR, "w1"), drop("c", stages.DEDUP_NEAR, "w2"),
             drop("d", stages.DEDUP_EXACT, "w1"),  # same survivor id, other stage: another cluster
             drop("e", stages.DEDUP_EXACT, ""),   # no survivor named: not counted
             drop("f", stages.FULLTEXT, "pmc1")]  # full text is not a duplicate cluster
    with beam.Pipeline(runner="FnApiRunner") as p:
        half = len(drops) // 2
        stats = cluster_size_stats([p | "A" >> beam.Create(drops[:half]), p | "B" >> beam.Create(drops[half:])])
        summed = stats | beam.CombinePerKey(lambda values: tuple(map(sum, zip(*values))))
        assert_that(summed, equal_to([("dedup_cluster\tdedup_near\t3", (1, 0, 0)),
                                      ("dedup_cluster\tdedup_near\t2", (1, 0, 0)),
                                      ("dedup_cluster\tdedup_exact\t2", (1, 0, 0))]))
