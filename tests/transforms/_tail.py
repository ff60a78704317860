"""Row sizes shared by the bounded-tail tests (test_pack.py, test_mix.py, test_rowfiles.py, test_shards.py)."""
from __future__ import annotations

SEQ_LEN = 31
WIDTH = SEQ_LEN + 1
VOCAB = 600
