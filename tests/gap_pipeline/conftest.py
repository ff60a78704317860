"""Fixtures shared by the gap_pipeline tests."""
from __future__ import annotations

import pytest

from testkit.shard_docs import make_docs
from testkit.tail_build import build_fake_out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    docs = make_docs(n_per_subset=8)
    out = tmp_path_factory.mktemp("corpus")
    build_fake_out(docs, out)
    return out, docs
