"""The manifest written beside the shards: what was built, from what, and how every record ended."""
from __future__ import annotations

import json
from pathlib import Path
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


def read_manifest(out: str | Path, error: type[Exception] = ManifestError) -> dict[str, Any]:
    """OUT/manifest.json of a corpus folder on this machine, parsed; `error` (the caller's exception type)
    when it is missing or not a JSON object (`gap_pipeline.verify` reads remote corpora, and checks every field)."""
    path = Path(out) / "manifest.json"
    if path.is_dir():
        raise error(f"no manifest: {path} is a folder, not a file")
    if not path.is_file():
        raise error(f"no manifest: {path} does not exist (is {out} a built corpus?)")
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except ValueError as exc:   # also UnicodeDecodeError
        raise error(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise error(f"{path} is not a JSON object")
    return manifest


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


# JSON Schema of the manifest's types, checked by `gap verify` before it trusts any field (a wrong type is
# one line naming the field, not a traceback). Arithmetic and checksums are verify's own checks.
_COUNT = {"type": "integer", "minimum": 0}
_SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_COUNTS = {"type": "object", "additionalProperties": _COUNT}
_REL_PATH = {"type": "string", "minLength": 1}
MANIFEST_JSON_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["schema_version", "config_hash", "config", "tokenizer", "accounting", "stages", "sources",
                 "mixture", "shards", "files"],
    "properties": {
        "schema_version": {"const": MANIFEST_VERSION},
        "config_hash": _SHA256,
        "config": {"type": "object"},
        "tokenizer": {
            "type": "object", "required": ["file", "sha256", "seq_len", "vocab_size", "bos_id", "eos_id"],
            "properties": {"file": _REL_PATH, "sha256": _SHA256, "seq_len": {"type": "integer", "minimum": 1},
                           "vocab_size": {"type": "integer", "minimum": 1}, "bos_id": {"type": "integer"},
                           "eos_id": {"type": "integer"}}},
        "accounting": {
            "type": "object", "required": ["raw_records", "documents"],
            "properties": {"raw_records": _COUNTS, "documents": _COUNTS, "balanced": {"type": "boolean"}}},
        "stages": {"type": "object", "additionalProperties": {
            "type": "object", "properties": {"docs_in": _COUNT, "docs_out": _COUNT, "dropped": _COUNTS,
                                             "dropped_chars": _COUNT, "dropped_tokens_estimate": _COUNT}}},
        "sources": {"type": "object", "additionalProperties": {
            "type": "object",
            "properties": {**{k: _COUNT for k in ("raw_records", "raw_excluded", "raw_superseded", "raw_quarantined",
                                                  "raw_extracted", "documents_extracted", "documents_kept",
                                                  "chars_extracted")},
                           "dropped": {"type": "object", "additionalProperties": _COUNTS},
                           "tokens": _COUNTS}}},
        "mixture": {"type": "object", "properties": {
            "train_tokens": _COUNT,
            **{k: {"type": "object", "additionalProperties": {
                "type": "object", "properties": {"train_tokens": _COUNT, "tokens": _COUNT,
                                                 "realised_share": {"type": "number"},
                                                 "target_share": {"type": "number"}}}}
               for k in ("subsets", "sources")}}},
        "shards": {"type": "array", "items": {
            "type": "object", "required": ["path", "split", "rows", "tokens", "sha256"],
            "properties": {"path": _REL_PATH, "split": {"enum": ["train", "validation"]}, "rows": _COUNT,
                           "tokens": _COUNT, "sha256": _SHA256, "subset_rows": _COUNTS, "source_rows": _COUNTS}}},
        "files": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["sha256", "bytes"], "properties": {"sha256": _SHA256, "bytes": _COUNT}}},
        "dedup": {"type": "object", "properties": {"clusters": {"type": "object", "additionalProperties": {
            "type": "object", "propertyNames": {"pattern": "^[1-9][0-9]*$"}, "additionalProperties": _COUNT}}}},
    },
}
