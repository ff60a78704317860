"""tests/data/authored: every file is listed in its README, says it was written for this repository, and the
generated ones are exactly what make_authored.py writes (so they can be rebuilt and reviewed as code)."""
from __future__ import annotations

import importlib.util

from testkit.authored import AUTHORED


def _generator():
    spec = importlib.util.spec_from_file_location("make_authored", AUTHORED / "make_authored.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_authored_file_is_listed_and_marked():
    readme = (AUTHORED / "README.md").read_text(encoding="utf-8")
    files = sorted(p for p in AUTHORED.rglob("*") if p.is_file() and p.name not in ("README.md", "make_authored.py")
                   and "__pycache__" not in p.parts)
    assert len(files) >= 9
    for path in files:
        relative = path.relative_to(AUTHORED).as_posix()
        listed = relative in readme or (path.parent.name == "ngc" and "ngc/ngc-authored-*.xml" in readme)
        assert listed, f"{relative} is not listed in tests/data/authored/README.md"
        if path.suffix in (".xml", ".html"):
            assert b"Written for the gap_pipeline repository" in path.read_bytes()[:2000], relative


def test_generated_files_match_the_generator():
    gen = _generator()
    for name, spec in gen.NGC.items():
        assert (AUTHORED / "ngc" / name).read_text(encoding="utf-8") == gen.ngc_xml(spec), name
    assert (AUTHORED / "pdf" / "nice_layout_authored.pdf").read_bytes() == gen.nice_pdf()
    assert (AUTHORED / "pdf" / "report_cover_repeated.pdf").read_bytes() == gen.cover_pdf()
