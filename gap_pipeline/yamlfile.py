"""YAML files as the configs read them: safe loading, a key given twice in one mapping refused. Only PyYAML,
so the trainer (gap_pipeline/training, no Beam, no pydantic) shares it with the corpus config."""
from __future__ import annotations

from typing import Any

import yaml


class YamlFileError(ValueError):
    """A YAML file does not parse, or gives a key twice (the message names the file, line and key)."""


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
