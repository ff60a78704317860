"""The typed settings model both configs share: the corpus config (gap_pipeline/config.py, whose sections are
declared beside their stages in transforms/ and scrapers/) and the trainer's (gap_pipeline/training/config.py).

- `Section`: a frozen, strict pydantic model; unknown keys refused, no "5" for 5, no NaN.
- `F(default, doc=..., ge=...)`: one key's declaration (leave the default out when a YAML file gives it).
- `merge(base, override)`: user values over the defaults, key by key, an unknown key named by its path.
- `validate(cls, values)`: one pass over every value; the first problem is one line naming the key's path,
  e.g. `quality.min_mean_word_length: must be >= 0.0, got -3.0`.
- `load_yaml(text, where)`: safe YAML with a key given twice refused.

Only pydantic and PyYAML: the trainer imports this without Beam, scrapers or transforms.
"""
from __future__ import annotations

import copy
from typing import Annotated, Any, Iterable, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticUndefined

from schemas.document import SUBSETS

__all__ = ["Section", "F", "SettingsError", "Subset", "Fraction", "merge", "validate", "error_line",
           "load_yaml", "YamlFileError", "type_name"]


class SettingsError(ValueError):
    """A settings mapping holds an unknown key or a bad value (the one-line message names its path)."""


class YamlFileError(SettingsError):
    """A YAML file does not parse, or gives a key twice (the message names the file, line and key)."""


# ---------------------------------------------------------------------------------------------- model

class Section(BaseModel):
    """One config section. strict: no "5" for 5, no true for 1 (an int is still accepted where a float is
    meant: 120 seconds); frozen: a stage cannot change the settings another stage sees."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)

    def to_dict(self) -> dict[str, Any]:
        """Plain nested mapping, keys in declaration order (what the manifest records and the hash covers)."""
        return self.model_dump()

    def replace(self, **changes: Any) -> "Section":
        """A copy with `changes` applied and checked like any other value (a bad one raises SettingsError)."""
        values = {name: getattr(self, name) for name in type(self).model_fields}
        values.update(changes)
        return validate(type(self), values)


def F(default: Any = PydanticUndefined, *, doc: str, **constraints: Any) -> Any:
    """One key's declaration: its default (none when a YAML file gives every default), documentation and
    pydantic constraints (ge, gt, le, lt, min_length)."""
    return Field(default, description=doc, **constraints)


Subset = Literal[tuple(SUBSETS)]  # type: ignore[valid-type]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


# ---------------------------------------------------------------------------------------------- errors

def type_name(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a mapping", type(None): "null"}.get(type(value), type(value).__name__)


_EXPECTED = {"int_type": "an integer", "float_type": "a number", "string_type": "a string", "bool_type": "a boolean",
             "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping",
             "model_attributes_type": "a mapping", "int_from_float": "an integer", "finite_number": "a finite number"}
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def error_line(err: dict[str, Any]) -> tuple[str, str]:
    """(key path, message) for one pydantic error, in the config's own words."""
    loc = [str(p) for p in err["loc"]]
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if loc and loc[-1] == "[key]":      # a map key outside its choices, e.g. an unknown subset
        path = ".".join(loc[:-1])
        return path, f"unknown key (known: {ctx.get('expected', '')})"
    path = ".".join(loc) or "config"
    if kind == "extra_forbidden":
        return path, "unknown config key"
    if kind == "missing":
        return path, "missing"
    if kind in _EXPECTED:
        return path, f"expected {_EXPECTED[kind]}, got {value!r}"
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        return path, f"must be {_BOUNDS[kind]} {bound}, got {value!r}"
    if kind == "literal_error" and not isinstance(value, str):
        return path, f"expected one of {ctx.get('expected')}, got {value!r}"
    if kind == "literal_error":
        return path, f"must be one of {ctx.get('expected')}, got {value!r}"
    if kind in ("too_short", "string_too_short"):
        return path, f"must not be empty, got {value!r}"
    return path, f"{err['msg']}, got {value!r}"


def known_keys(cls: type[BaseModel], path: str) -> list[str]:
    """The keys declared beside `path` (a dotted path under `cls`), for an 'unknown key' message."""
    node: Any = cls
    for part in path.split(".")[:-1]:
        info = node.model_fields.get(part) if isinstance(node, type) and issubclass(node, BaseModel) else None
        if info is None or not (isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel)):
            return []
        node = info.annotation
    return sorted(node.model_fields)


S = TypeVar("S", bound=BaseModel)


def validate(cls: type[S], values: Any, *, where: str = "", error: type[SettingsError] = SettingsError,
             missing: str = "missing") -> S:
    """`values` checked against `cls` in one pass. The first problem becomes `error("<path>: <message>")`,
    the path prefixed with `where` (e.g. "model" when a sub-section is validated on its own)."""
    try:
        return cls.model_validate(values)
    except ValidationError as exc:
        raise error(message(cls, exc, where=where, missing=missing)) from None


def message(cls: type[BaseModel], exc: ValidationError, *, where: str = "", missing: str = "missing") -> str:
    """One line for a pydantic error: the first problem's key path and what is wrong with it."""
    errors = exc.errors()
    path, msg = error_line(errors[0])
    if errors[0]["type"] == "missing":
        msg = missing
    full = ".".join(p for p in (where, path) if p and p != "config") or "config"
    if msg == "unknown config key":
        return unknown_key_message(full, known_keys(cls, path))
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{full}: {msg}{more}"


def unknown_key_message(path: str, known: Iterable[str]) -> str:
    return f"unknown config key {path!r} (known keys here: {', '.join(sorted(map(str, known)))})"


# ---------------------------------------------------------------------------------------------- merging

def merge(base: Any, override: Any, path: str = "", *, replaced_whole: Iterable[str] = (),
          error: type[SettingsError] = SettingsError) -> Any:
    """User values over the defaults, key by key: a key the defaults lack is refused with its path (the
    defaults are complete, so that is an unknown key); a mapping at a path in `replaced_whole` (free-keyed
    maps: subset priorities, shares) replaces the default whole. Types and ranges are checked afterwards,
    in one pass, by `validate`."""
    whole = set(replaced_whole)
    if not isinstance(override, dict):
        if not path:
            raise error(f"config: expected a mapping, got {type_name(override)}")
        return override
    if not isinstance(base, dict):
        return override
    merged = copy.deepcopy(base)
    for key, value in override.items():
        full = f"{path}.{key}" if path else str(key)
        if key not in base:
            raise error(unknown_key_message(full, base))
        merged[key] = value if full in whole else merge(base[key], value, full, replaced_whole=whole, error=error)
    return merged


# ---------------------------------------------------------------------------------------------- YAML

class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first given at line {seen[key].start_mark.line + 1})",
                    key_node.start_mark)
            try:
                seen[key] = key_node
            except TypeError:  # an unhashable key (a list or mapping as key) is reported by the base loader
                break
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str, where: str) -> Any:
    """Parse YAML with duplicate keys refused; the error names the file, line and key."""
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
        if mark is not None and problem:
            detail = f"{problem} at line {mark.line + 1}, column {mark.column + 1}"
        else:
            detail = " ".join(str(exc).split())
        raise YamlFileError(f"config file {where} is not valid YAML: {detail}") from exc
