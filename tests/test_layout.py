"""The repository's layout rules that code review alone would let slip: tests and benchmarks share helpers
through testkit/ and never import each other, testkit/ is not shipped in the package, and tests mirror the
code (tests/a/b/test_c.py tests a/b/c.py; DESIGN.md, "Tests mirror the code")."""
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


# --- tests mirror the code ------------------------------------------------------------------------
# The tests of module a/b/c.py live in tests/a/b/test_c.py, or in tests/a/b/test_c_<aspect>.py when one
# aspect of c.py (real documents, a whole subsystem such as pdf limits) deserves its own file. Tests that run
# a whole build across many modules live in tests/integration/. Helper modules are _<name>.py or conftest.py.

CODE_PACKAGES = ("gap_pipeline", "transforms", "schemas", "scrapers")
MIRRORED = CODE_PACKAGES + ("testkit",)
WHOLE_BUILDS = "integration"

# Modules with logic but no test file of their own: where they are tested instead (a path that must
# exist), or None, and why. Write the module's test file and drop its line here.
UNTESTED = {
    "gap_pipeline/cli.py": (None, "argparse dispatch: every test that calls gap_pipeline.cli.main goes through it"),
    "gap_pipeline/commands/build.py": ("tests/integration/test_end_to_end.py", "thin CLI glue over build.py"),
    "gap_pipeline/commands/export.py": ("tests/gap_pipeline/test_export.py", "runs `gap export`"),
    "gap_pipeline/commands/report.py": ("tests/gap_pipeline/test_report.py", "runs `gap report`"),
    "gap_pipeline/commands/verify.py": ("tests/gap_pipeline/test_verify.py", "runs `gap verify`"),
    "gap_pipeline/training/__main__.py": (None, "`python -m gap_pipeline.training` = `gap train`, for torch-only "
                                                "images"),
    "transforms/extract/__init__.py": ("tests/transforms/extract/test_jats.py", "extract_record dispatch, used "
                                                                                "by every extractor's tests"),
    "transforms/extract/errors.py": (None, "one exception class"),
    "scrapers/sources/magic.py": ("tests/scrapers/test_sources.py", "crawls every source's fixture site"),
    "scrapers/sources/pubmed_guidelines.py": ("tests/scrapers/test_sources.py", "crawls every source's fixture "
                                                                                "site"),
    "scrapers/sources/wikidoc.py": ("tests/scrapers/test_sources.py", "crawls every source's fixture site"),
}


# Helpers whose path the code itself names, so they keep it: `gap sources add` writes a fixture test that
# imports tests.scrapers.sites (gap_pipeline/commands/sources.py, TEST_TEMPLATE).
HELPERS_NAMED_IN_CODE = {"tests/scrapers/sites.py"}


def _test_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "tests").rglob("test_*.py") if "data" not in p.relative_to(root / "tests").parts)


def _mirrored_module(root: Path, test: Path) -> Path | None:
    """The module tests/a/b/test_c[_aspect].py tests: a/b/c.py or a/b/c/__init__.py, longest name first."""
    rel = test.relative_to(root / "tests")
    folder = root.joinpath(*rel.parts[:-1])
    words = rel.stem[len("test_"):].split("_")
    for n in range(len(words), 0, -1):
        name = "_".join(words[:n])
        for module in (folder / f"{name}.py", folder / name / "__init__.py"):
            if module.is_file():
                return module
    return None


def _modules_named(root: Path, stem: str) -> list[str]:
    """Where a misplaced test file's tests probably belong: the mirror paths of modules with that name."""
    out = []
    for package in MIRRORED:
        for module in sorted((root / package).rglob("*.py")):
            rel = module.relative_to(root)
            if module.stem == stem:
                out.append(str(Path("tests", *rel.parts[:-1], f"test_{stem}.py")))
            elif module.name == "__init__.py" and module.parent.name == stem:
                out.append(str(Path("tests", *rel.parts[:-2], f"test_{stem}.py")))
    return out


def misplaced_tests(root: Path) -> list[str]:
    """Test files that mirror no module, each with where it should go."""
    bad = []
    for test in _test_files(root):
        rel = test.relative_to(root / "tests")
        if len(rel.parts) == 1 or rel.parts[0] == WHOLE_BUILDS or _mirrored_module(root, test):
            continue
        words = rel.stem[len("test_"):].split("_")
        hints = [h for n in range(len(words), 0, -1) for h in _modules_named(root, "_".join(words[:n]))]
        where = (f"move it to {' or '.join(hints[:3])}" if hints else
                 "name it tests/<package path>/test_<module>.py (or test_<module>_<aspect>.py) after the module it "
                 "tests")
        bad.append(f"tests/{rel} mirrors no module (tests/a/b/test_c.py tests a/b/c.py): {where}, or move it to "
                   f"tests/{WHOLE_BUILDS}/ if it runs a whole build")
    return bad


def untested_modules(root: Path, allowed: dict) -> list[str]:
    """Modules with logic (a def or class) that no test file mirrors and the allow-list does not name."""
    covered = {_mirrored_module(root, t) for t in _test_files(root)}
    bad = []
    for package in CODE_PACKAGES:
        for module in sorted((root / package).rglob("*.py")):
            rel = module.relative_to(root)
            tree = ast.parse(module.read_text(encoding="utf-8"), str(module))
            if module in covered or str(rel) in allowed or not any(
                    isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in ast.walk(tree)):
                continue
            if module.name == "__init__.py":
                want = Path("tests", *rel.parts[:-2], f"test_{module.parent.name}.py")
            else:
                want = Path("tests", *rel.parts[:-1], f"test_{module.stem}.py")
            bad.append(f"{rel} has no test file: write {want} (or list it in UNTESTED in tests/test_layout.py "
                       f"with where it is tested and why)")
    return bad


def test_every_test_file_mirrors_a_module():
    bad = misplaced_tests(REPO)
    assert not bad, "\n".join(bad)


def test_every_module_with_logic_has_a_test_file():
    bad = untested_modules(REPO, UNTESTED)
    assert not bad, "\n".join(bad)


def test_the_untested_list_is_current():
    covered = {_mirrored_module(REPO, t) for t in _test_files(REPO)}
    bad = []
    for module, (tested_in, why) in UNTESTED.items():
        if not (REPO / module).is_file():
            bad.append(f"UNTESTED names {module}, which does not exist: drop its line")
        elif REPO / module in covered:
            bad.append(f"UNTESTED names {module}, which has a test file now: drop its line")
        if tested_in and not (REPO / tested_in).is_file():
            bad.append(f"UNTESTED says {module} is tested in {tested_in}, which does not exist: name the file")
        if not why:
            bad.append(f"UNTESTED gives no reason for {module}")
    assert not bad, "\n".join(bad)


def test_helpers_are_named_apart_and_test_folders_are_packages():
    """Only test_*.py hold tests; helpers are _<name>.py or conftest.py. Every folder of tests has an
    __init__.py, so pytest imports tests/a/test_x.py as tests.a.test_x and two folders may both have one."""
    tests = REPO / "tests"
    bad = [f"tests/{p.relative_to(tests)}: a helper module's name starts with _ (or it is conftest.py); a test "
           f"file's with test_" for p in sorted(tests.rglob("*.py"))
           if "data" not in p.relative_to(tests).parts and not p.name.startswith(("test_", "_"))
           and p.name != "conftest.py" and str(p.relative_to(REPO)) not in HELPERS_NAMED_IN_CODE]
    bad += [f"tests/{folder.relative_to(tests)} has test files but no __init__.py"
            for folder in sorted({t.parent for t in _test_files(REPO)}) if not (folder / "__init__.py").is_file()]
    assert not bad, "\n".join(bad)


def test_the_mirror_guard_names_the_file_and_where_it_belongs(tmp_path):
    for path in ("transforms/quality.py", "transforms/extract/html.py", "transforms/extract/__init__.py",
                 "schemas/raw.py", "tests/transforms/test_quality_real.py", "tests/transforms/extract/test_html.py",
                 "tests/guidelines/test_html.py", "tests/transforms/test_extract.py", "tests/integration/test_build.py",
                 "tests/test_anything.py", "tests/transforms/test_nothing.py"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("def f():\n    pass\n")
    assert misplaced_tests(tmp_path) == [
        "tests/guidelines/test_html.py mirrors no module (tests/a/b/test_c.py tests a/b/c.py): move it to "
        "tests/transforms/extract/test_html.py, or move it to tests/integration/ if it runs a whole build",
        "tests/transforms/test_nothing.py mirrors no module (tests/a/b/test_c.py tests a/b/c.py): name it "
        "tests/<package path>/test_<module>.py (or test_<module>_<aspect>.py) after the module it tests, or move "
        "it to tests/integration/ if it runs a whole build"]
    assert untested_modules(tmp_path, {}) == [
        "schemas/raw.py has no test file: write tests/schemas/test_raw.py (or list it in UNTESTED in "
        "tests/test_layout.py with where it is tested and why)"]
    assert untested_modules(tmp_path, {"schemas/raw.py": (None, "why")}) == []
