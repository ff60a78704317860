"""Fixtures written for this repository (tests/data/authored, licence: the repository's): invented documents in
the real formats, so that a clone without ../shared tests the behaviours its real-file tests check on files
that may not be redistributed (tests/data/NOT_BUNDLED.tsv)."""
from __future__ import annotations

from pathlib import Path

AUTHORED = Path(__file__).resolve().parents[1] / "tests" / "data" / "authored"
MEDLINE_XML = AUTHORED / "medline" / "authored_medline.xml"
NGC_DIR = AUTHORED / "ngc"
NICE_PDF = AUTHORED / "pdf" / "nice_layout_authored.pdf"
