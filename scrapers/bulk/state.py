"""A small JSON state file per bulk source: which packages/files are done (incremental re-runs)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class BulkState:
    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path else None
        self.data: dict[str, Any] = {"done": []}
        if self.path and self.path.exists():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except ValueError as exc:  # truncated, corrupt, not UTF-8
                raise ValueError(f"bulk state file {self.path} is not valid JSON: {exc}") from exc
            if not isinstance(data, dict) or not isinstance(data.setdefault("done", []), list):
                raise ValueError(f"bulk state file {self.path} must hold a JSON object whose 'done' is a list")
            self.data = data

    def is_done(self, key: str) -> bool:
        return key in self.data["done"]

    def mark_done(self, key: str, **extra: Any) -> None:
        if key not in self.data["done"]:
            self.data["done"].append(key)
        for name, value in extra.items():
            self.data[name] = value
        self.save()

    def save(self) -> None:
        if not self.path:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)
