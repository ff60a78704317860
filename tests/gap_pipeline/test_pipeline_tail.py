"""The stages under Beam: exact mixture, round trip from shards to texts, determinism, datasets."""
from __future__ import annotations

import collections

import pytest

from testkit.tail_build import SHARES, run_stages
from testkit.shard_docs import make_docs
from transforms.shards import read_shard
from transforms.tokenizer import load_tokenizer

SEQ_LEN = 64


@pytest.fixture(scope="module")
def docs():
    return make_docs(n_per_subset=25)


@pytest.fixture(scope="module")
def built(docs, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    return out, run_stages(docs, out, seq_len=SEQ_LEN)


def test_shards_round_trip_to_source_texts(docs, built):
    """Rebuild every document from the row pieces that carry it and decode it back to its text."""
    out, res = built
    sp = load_tokenizer(res["model"])
    by_id = {d.id: d for d in docs}
    pieces: dict[str, dict[int, int]] = collections.defaultdict(dict)  # doc -> {offset in doc: token}
    for shard in res["shards"]:
        table = read_shard(str(out / shard["path"]))
        assert table.num_rows == shard["rows"]
        for row in table.to_pylist():
            ids = row["input_ids"]
            assert len(ids) == SEQ_LEN + 1
            assert by_id[row["doc_ids"][0]].subset == row["subset"]
            bounds = row["doc_starts"][1:] + [len(ids)]
            for doc_id, start, end in zip(row["doc_ids"], row["doc_starts"], bounds):
                for pos in range(max(start, 0), end):
                    pieces[doc_id][pos - start] = ids[pos]
    complete = 0
    for doc_id, tokens in pieces.items():
        expected = [sp.bos_id(), *sp.encode(by_id[doc_id].text), sp.eos_id()]
        assert all(expected[offset] == token for offset, token in tokens.items())
        if len(tokens) == len(expected):
            assert sp.decode([tokens[i] for i in range(1, len(expected) - 1)]) == by_id[doc_id].text
            complete += 1
    assert complete > len(docs) // 3


def test_mixture_exact_and_split_disjoint(docs, built):
    out, res = built
    train_rows = collections.Counter()
    train_docs, valid_docs = set(), set()
    for shard in res["shards"]:
        table = read_shard(str(out / shard["path"]))
        for subset, doc_ids in zip(table.column("subset").to_pylist(), table.column("doc_ids").to_pylist()):
            if shard["split"] == "train":
                train_rows[subset] += 1
                train_docs.update(doc_ids)
            else:
                valid_docs.update(doc_ids)
    assert valid_docs and train_docs and not (train_docs & valid_docs)
    mixture = res["mixture"]
    total = sum(train_rows.values())
    assert total == mixture["train_rows"]
    for subset, share in SHARES.items():
        assert train_rows[subset] == mixture["subsets"][subset]["rows"]
        assert abs(train_rows[subset] / total - share) <= 0.001
        assert mixture["subsets"][subset]["realised_share"] == pytest.approx(train_rows[subset] / total)
    # Replay was upsampled (few rows, 10% share): some rows repeat.
    assert mixture["subsets"]["replay"]["repeated_rows"] > 0


def test_byte_identical_across_runs_and_workers(docs, built, tmp_path):
    out, res = built
    again = run_stages(docs, tmp_path / "again", seq_len=SEQ_LEN, workers=2)
    assert [(s["path"], s["sha256"]) for s in again["shards"]] == [(s["path"], s["sha256"]) for s in res["shards"]]
    assert len({s["path"] for s in res["shards"] if s["split"] == "train"}) > 1
    for s in res["shards"]:
        assert (out / s["path"]).read_bytes() == (tmp_path / "again" / s["path"]).read_bytes()


def test_datasets_opens_shards(built):
    datasets = pytest.importorskip("datasets")
    out, res = built
    shard = next(s for s in res["shards"] if s["split"] == "train" and s["rows"])
    ds = datasets.Dataset.from_file(str(out / shard["path"]))
    assert len(ds) == shard["rows"]
    assert len(ds[0]["input_ids"]) == SEQ_LEN + 1
    assert read_shard(str(out / shard["path"])).column("input_ids").to_pylist()[0] == ds[0]["input_ids"]


def test_token_rows_never_cross_a_shuffle_in_the_tokens_phase(tmp_path):
    """The tokens phase's graph: apart from combiners (statistics, the plan's small records, the tokenizer
    sample, the shard list) and reshuffles of part numbers, the one GroupByKey is WriteShards/GroupShard,
    over (split, shard) -> (part, start, count) range records."""
    import apache_beam as beam

    from gap_pipeline import pipeline
    from testkit.tail_build import tail_config

    ctx = pipeline.PhaseContext(cfg=tail_config(), sources={}, parts=("a", "b", "c"), out=str(tmp_path / "out"),
                                work=str(tmp_path / "work"))
    p = beam.Pipeline()
    pipeline.build_phase(p, "tokens", ctx)
    transforms = p.to_runner_api().components.transforms.values()
    combines = [t.unique_name for t in transforms if t.spec.urn == "beam:transform:combine_per_key:v1"]
    groups = {t.unique_name for t in transforms if t.spec.urn == "beam:transform:group_by_key:v1"
              and not any(t.unique_name.startswith(c + "/") for c in combines)
              and "/ReshufflePerKey/" not in t.unique_name}
    assert groups == {"WriteShards/GroupShard"}
    reshuffled = {t.unique_name.split("/")[0] for t in transforms if t.unique_name.endswith("/ReshufflePerKey")}
    assert reshuffled and all(name.endswith("Parts") or name == "PartNumbers" for name in reshuffled), reshuffled
