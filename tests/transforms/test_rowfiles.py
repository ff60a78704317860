"""Row files (transforms/rowfiles.py): a row with an id outside the vocabulary is refused when written."""
from __future__ import annotations

import numpy as np
import pytest

from tests.transforms._tail import SEQ_LEN, VOCAB, WIDTH
from transforms.rowfiles import RowWriter, row_file, row_schema
from transforms.split import TRAIN


def test_a_row_file_with_an_id_outside_the_vocabulary_is_refused(tmp_path):
    writer = RowWriter(row_file(str(tmp_path), 0), row_schema(SEQ_LEN, VOCAB), VOCAB)
    writer.add({"subset": "papers", "split": TRAIN, "source": "", "index": 0, "input_ids": np.full(WIDTH, VOCAB),
                "doc_ids": ["d"], "doc_starts": [0]})
    with pytest.raises(ValueError, match=f"token id {VOCAB} is outside the vocabulary of {VOCAB}"):
        writer.close()
