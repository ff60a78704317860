"""Record contracts shared by scrapers, transforms, the pipeline and the trainer.

Only pyarrow (and the standard library) may be imported here: a training image needs
nothing else to read shards and manifests. `schemas.settings` (the config base) adds pydantic
and PyYAML, and is imported only where a config is read.
"""
from schemas.raw import RAW_SCHEMA, RAW_SCHEMA_VERSION, CONTENT_TYPES, RawRecord, validate_raw_table
from schemas.document import DOCUMENT_SCHEMA, SUBSETS, Document, document_id
from schemas.shard import SHARD_SCHEMA_VERSION, token_shard_schema, token_dtype, validate_shard_schema
from schemas.manifest import MANIFEST_VERSION, validate_manifest, ManifestError

__all__ = [
    "RAW_SCHEMA", "RAW_SCHEMA_VERSION", "CONTENT_TYPES", "RawRecord", "validate_raw_table",
    "DOCUMENT_SCHEMA", "SUBSETS", "Document", "document_id",
    "SHARD_SCHEMA_VERSION", "token_shard_schema", "token_dtype", "validate_shard_schema",
    "MANIFEST_VERSION", "validate_manifest", "ManifestError",
]
