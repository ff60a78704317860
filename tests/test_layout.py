"""The repository's layout rules that code review alone would let slip: tests and benchmarks share helpers
through testkit/ and never import each other, and testkit/ is not shipped in the package."""
from __future__ import annotations

import ast
import configparser
from pathlib import Path

from setuptools import find_packages

REPO = Path(__file__).resolve().parents[1]


def _imported(path: Path) -> set[str]:
    """Top-level names of every module `path` imports, at any depth (lazy imports inside functions too)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_benchmarks_and_testkit_import_no_tests():
    bad = [str(p.relative_to(REPO)) for folder in ("benchmarks", "testkit") for p in sorted((REPO / folder).rglob("*.py"))
           if "tests" in _imported(p)]
    assert not bad, f"import tests.* from these; move the helper to testkit/: {bad}"


def test_tests_import_no_benchmarks():
    def loads_a_benchmark_file(p: Path) -> bool:  # importlib on benchmarks/<file>.py
        text = p.read_text(encoding="utf-8")
        return p != Path(__file__).resolve() and "spec_from_file_location(" in text and '"benchmarks"' in text

    bad = [str(p.relative_to(REPO)) for p in sorted((REPO / "tests").rglob("*.py"))
           if "benchmarks" in _imported(p) or loads_a_benchmark_file(p)]
    assert not bad, f"import a benchmark module; move what they share to testkit/: {bad}"


def test_testkit_is_not_in_the_package():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    include = cfg["options.packages.find"]["include"].split()
    packages = find_packages(str(REPO), include=include)
    assert {"gap_pipeline", "scrapers", "transforms", "schemas"} <= set(packages)
    assert not [p for p in packages if p.split(".")[0] in ("testkit", "tests", "benchmarks")]
