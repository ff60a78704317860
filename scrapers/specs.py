"""Declarative source specs: one YAML file per publisher in scrapers/sources/, checked by
schemas/source_spec.schema.json plus a few checks a JSON Schema cannot express (regexes compile,
start URLs lie inside the allowed domains, the file name matches the id, the hook exists)."""
from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import soupsieve
import yaml

SOURCES_DIR = Path(__file__).resolve().parent / "sources"


class SpecError(ValueError):
    """A source spec is missing, unreadable or invalid (the message names the spec and field)."""


@functools.lru_cache(maxsize=1)
def spec_schema() -> dict[str, Any]:
    text = resources.files("schemas").joinpath("source_spec.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


def host_allowed(host: str, allowed_domains: list[str]) -> bool:
    """True when host equals an allowed domain or is a subdomain of one ("nice.org.uk" allows
    "www.nice.org.uk"). Entries may carry a port (used by loopback test fixtures)."""
    host = host.lower().rstrip(".")
    for domain in allowed_domains:
        domain = domain.lower()
        if host == domain or host.endswith("." + domain):
            return True
    return False


def _netloc_host(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def _css_selectors(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(key path, selector) of every CSS selector in a schema-valid spec."""
    found = []
    disc, content = spec["discovery"], spec.get("content") or {}
    for key in ("article_selectors", "follow_selectors"):
        found += [(f"discovery.{key}", s) for s in disc.get(key, [])]
    if (disc.get("pagination") or {}).get("selector"):
        found.append(("discovery.pagination.selector", disc["pagination"]["selector"]))
    for key in ("title_selector", "body_selector", "date_selector"):
        if content.get(key):
            found.append((f"content.{key}", content[key]))
    for key in ("remove_selectors", "pdf_selectors"):
        found += [(f"content.{key}", s) for s in content.get(key) or []]
    return found


def validate_spec(spec: Any, name: str = "<spec>") -> dict[str, Any]:
    """Return the spec when valid; raise SpecError naming the first problem."""
    validator = jsonschema.Draft202012Validator(spec_schema())
    errors = sorted(validator.iter_errors(spec), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        raise SpecError(f"source spec {name}: {where}: {err.message}")
    disc = spec["discovery"]
    for key in ("article_patterns", "follow_patterns", "exclude_patterns"):
        for pattern in disc.get(key, []):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise SpecError(f"source spec {name}: discovery.{key}: bad regex {pattern!r}: {exc}") from exc
    for where, selector in _css_selectors(spec):
        try:
            soupsieve.compile(selector)
        except soupsieve.SelectorSyntaxError as exc:
            reason = " ".join(str(exc).split("\n")[0].split())
            raise SpecError(f"source spec {name}: {where}: bad CSS selector {selector!r}: {reason}") from None
    for key in ("removers", "starters", "stoppers"):
        for pattern in spec["cleaning"].get(key, []):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise SpecError(f"source spec {name}: cleaning.{key}: bad regex {pattern!r}: {exc}") from exc
    if disc["method"] != "bulk":
        if not spec["allowed_domains"]:
            raise SpecError(f"source spec {name}: allowed_domains must not be empty for a crawled source")
        urls = list(disc.get("start_urls", []))
        if disc.get("api", {}).get("endpoint"):
            urls.append(disc["api"]["endpoint"])
        if not urls:
            raise SpecError(f"source spec {name}: discovery needs start_urls or api.endpoint")
        for url in urls:
            try:
                host = _netloc_host(url.replace("{letter}", "a"))
            except ValueError as exc:  # urllib: a port out of range or not a number
                raise SpecError(f"source spec {name}: start URL {url}: {exc}") from None
            if not (host_allowed(host, spec["allowed_domains"]) or
                    host_allowed(host.split(":")[0], spec["allowed_domains"])):
                raise SpecError(f"source spec {name}: start URL {url} is outside allowed_domains")
        if disc["method"] in ("json_api", "mediawiki", "eutils") and "hook" not in spec:
            raise SpecError(f"source spec {name}: discovery method {disc['method']!r} needs a hook module")
    if spec.get("crawl", {}).get("respect_robots") is False and disc["method"] not in ("eutils", "mediawiki", "json_api"):
        raise SpecError(f"source spec {name}: crawl.respect_robots may be false only for a documented API")
    if spec.get("hook"):
        module = f"scrapers.sources.{spec['hook']}"
        if importlib.util.find_spec(module) is None:
            raise SpecError(f"source spec {name}: hook module {module} not found")
    return spec


def parse_spec_text(text: str, name: str) -> dict[str, Any]:
    try:
        spec = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"source spec {name}: not valid YAML: {exc}") from exc
    return validate_spec(spec, name)


def spec_files(directory: Path | None = None) -> list[Path]:
    return sorted((directory or SOURCES_DIR).glob("*.yaml"))


def load_spec_file(path: Path) -> dict[str, Any]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(f"source spec {Path(path).name}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:  # missing, a folder, unreadable
        raise SpecError(f"source spec {path}: cannot read: {exc.strerror or exc}") from None
    spec = parse_spec_text(text, Path(path).name)
    if spec["id"] != Path(path).stem:
        raise SpecError(f"source spec {Path(path).name}: id {spec['id']!r} must equal the file name")
    return spec


def load_specs_checked(directory: Path | None = None) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """(valid specs keyed by id, {id: one-line problem} of the invalid ones): one bad file never hides
    the others. The problem names the file."""
    specs: dict[str, dict[str, Any]] = {}
    problems: dict[str, str] = {}
    for path in spec_files(directory):
        try:
            specs[path.stem] = load_spec_file(path)
        except SpecError as exc:
            problems[path.stem] = " ".join(str(exc).split())  # YAML errors span lines
        except (OSError, UnicodeDecodeError) as exc:
            problems[path.stem] = f"source spec {path.name}: cannot read: {exc}"
    return specs, problems


def load_specs(directory: Path | None = None) -> dict[str, dict[str, Any]]:
    """Every shipped spec (or every spec in `directory`), validated, keyed by id, sorted by id."""
    return {path.stem: load_spec_file(path) for path in spec_files(directory)}


def load_spec(name: str, directory: Path | None = None) -> dict[str, Any]:
    path = (directory or SOURCES_DIR) / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(p.stem for p in spec_files(directory))
        raise SpecError(f"unknown source {name!r} (known: {known})")
    return load_spec_file(path)


def _user_dir(specs_dir: str | Path | None) -> Path | None:
    if specs_dir is None or str(specs_dir) == "":
        return None
    directory = Path(specs_dir)
    if not directory.is_dir():
        raise SpecError(f"specs folder not found: {directory}")
    return directory


def load_corpus_specs(specs_dir: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The specs a corpus uses: the shipped ones plus those in `specs_dir` (a corpus's own, e.g. written by
    `gap sources add`), sorted by id. A spec in `specs_dir` with a shipped spec's name replaces it (a
    corpus may retune or relocate a shipped source without editing the installed package)."""
    specs = load_specs()
    user = _user_dir(specs_dir)
    if user is not None:
        specs.update(load_specs(user))
    return dict(sorted(specs.items()))


def load_corpus_specs_checked(specs_dir: str | Path | None = None) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """`load_corpus_specs`, with invalid spec files reported instead of raised: (valid specs, {id: problem}).
    A valid corpus spec replaces a shipped one of the same name, and clears a shipped one's problem."""
    specs, problems = load_specs_checked()
    user = _user_dir(specs_dir)
    if user is not None:
        user_specs, user_problems = load_specs_checked(user)
        specs.update(user_specs)
        for name in user_specs:
            problems.pop(name, None)
        problems.update(user_problems)
        for name in user_problems:
            specs.pop(name, None)
    return dict(sorted(specs.items())), problems


def spec_origin(name: str, specs_dir: str | Path | None = None) -> str:
    """"user" when `specs_dir` holds the spec `name` (it replaces any shipped one), else "shipped"."""
    user = _user_dir(specs_dir)
    return "user" if user is not None and (user / f"{name}.yaml").is_file() else "shipped"


def load_corpus_spec(name: str, specs_dir: str | Path | None = None) -> dict[str, Any]:
    """One spec by id: from `specs_dir` when it is there, else the shipped one."""
    user = _user_dir(specs_dir)
    if user is not None and (user / f"{name}.yaml").is_file():
        return load_spec_file(user / f"{name}.yaml")
    if (SOURCES_DIR / f"{name}.yaml").is_file():
        return load_spec_file(SOURCES_DIR / f"{name}.yaml")
    known = ", ".join(load_corpus_specs(specs_dir))
    raise SpecError(f"unknown source {name!r} (known: {known})")


def extraction_rules(spec: dict[str, Any]) -> dict[str, Any]:
    """What the pipeline passes to transforms.extract as `rules`: the content and cleaning parts."""
    return {"content": dict(spec["content"]), "cleaning": dict(spec["cleaning"])}


def load_hook(spec: dict[str, Any]):
    """The spec's hook module, or None."""
    if not spec.get("hook"):
        return None
    return importlib.import_module(f"scrapers.sources.{spec['hook']}")
