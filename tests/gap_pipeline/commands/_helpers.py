"""Spec folders pointing the shipped source specs at a loopback fixture server."""
from __future__ import annotations

import yaml

from scrapers.specs import load_spec
from tests.scrapers.sites import localize


def write_local_specs(tmp_path, server, names):
    specs_dir = tmp_path / "specs"
    specs_dir.mkdir(exist_ok=True)
    for name in names:
        (specs_dir / f"{name}.yaml").write_text(yaml.safe_dump(localize(load_spec(name), server.base)))
    return specs_dir
