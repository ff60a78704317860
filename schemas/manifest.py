"""The manifest written beside the shards: what was built, from what, and how every record ended."""
from __future__ import annotations

from typing import Any

MANIFEST_VERSION = 1

REQUIRED_TOP_LEVEL = {
    "schema_version": int,
    "config_hash": str,
    "tokenizer": dict,
    "accounting": dict,
    "stages": dict,
    "sources": dict,
    "mixture": dict,
    "shards": list,
}


class ManifestError(ValueError):
    pass


def validate_manifest(manifest: dict[str, Any]) -> None:
    """Structural check; `gap verify` adds the checksum and arithmetic checks."""
    if not isinstance(manifest, dict):
        raise ManifestError("manifest must be a JSON object")
    for key, kind in REQUIRED_TOP_LEVEL.items():
        if key not in manifest:
            raise ManifestError(f"manifest lacks {key!r}")
        if not isinstance(manifest[key], kind):
            raise ManifestError(f"manifest {key!r} must be {kind.__name__}")
    if manifest["schema_version"] != MANIFEST_VERSION:
        raise ManifestError(f"manifest schema_version {manifest['schema_version']} != {MANIFEST_VERSION}")
    for i, shard in enumerate(manifest["shards"]):
        for key in ("path", "split", "rows", "tokens", "sha256"):
            if key not in shard:
                raise ManifestError(f"manifest shard #{i} lacks {key!r}")
    for key in ("seq_len", "vocab_size", "sha256", "bos_id", "eos_id"):
        if key not in manifest["tokenizer"]:
            raise ManifestError(f"manifest tokenizer lacks {key!r}")
