"""tarsafe: a corrupt archive is one refusal, not an exception."""
from __future__ import annotations

import io

from scrapers.bulk.tarsafe import Member, Refused, iter_tar
from tests.scrapers.bulk._helpers import _tar


def test_tar_corrupt_archive_is_reported():
    items = list(iter_tar(io.BytesIO(b"\x1f\x8b\x08\x00 not a tar")))
    assert len(items) == 1 and isinstance(items[0], Refused) and items[0].reason.startswith("corrupt")
    ok = list(iter_tar(io.BytesIO(_tar([("a.xml", b"<a/>"), ("b.jpg", b"img")]))))
    assert ok == [Member("a.xml", b"<a/>")]
