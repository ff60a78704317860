"""`gap export OUT --redistributable`: the kept documents whose licences allow redistribution, as JSONL and
Parquet — the way MEDITRON published the open part of its guidelines.

A document is exported when (1) its source's spec does not mark it non-redistributable (manifest
`sources.<name>.redistributable`; one source of truth) and (2) its own licence is an open one: public
domain, CC0, CC-BY, CC-BY-SA, an open government licence, MIT, BSD or Apache. Licences with
NonCommercial or NoDerivatives terms, "all rights reserved" and unknown licences are not exported, and
each excluded document is counted by licence so the reader sees what was held back.
"""
from __future__ import annotations

import glob
import json
import os
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from schemas.document import DOCUMENT_SCHEMA
from schemas.manifest import read_manifest

_OPEN = re.compile(r"^(public[-_ ]?domain|pd|cc0|cc[-_ ]?zero|cc[-_ ]?by(?:[-_ ]?sa)?|ogl|open[-_ ]government|"
                   r"mit|bsd|apache)", re.IGNORECASE)
_RESTRICTED = re.compile(r"(^|[-_ ])(nc|nd)([-_ ]|$)|non[-_ ]?commercial|no[-_ ]?deriv|all[-_ ]rights|"
                         r"proprietary|unknown", re.IGNORECASE)


class ExportError(ValueError):
    """The corpus cannot be exported, or not to that destination (the message names the file)."""


EXPORT_FILES = ("documents.jsonl", "documents.parquet", "export.json")


def check_destination(dest: Path, names: tuple[str, ...], error: type[Exception] = ExportError) -> None:
    """Refuse a --dest that is not a folder, or that holds a file of `names` (what the export writes) when
    the last of `names`, the export's summary, is not there as one gap wrote: never overwrite a user's files."""
    if dest.exists() and not dest.is_dir():
        raise error(f"--dest {dest} is not a folder")
    summary = dest / names[-1]
    try:
        ours = summary.is_file() and isinstance(json.loads(summary.read_text(encoding="utf-8")), dict)
    except (OSError, ValueError):
        ours = False
    theirs = [name for name in names if (dest / name).exists()]
    if theirs and not ours:
        raise error(f"--dest {dest} already holds {', '.join(theirs)}, not written by gap export "
                    f"(no {names[-1]}); give an empty or new folder")


def licence_allows_redistribution(licence: str | None) -> bool:
    """True for open licences (see the module doc); NC, ND, unknown and all-rights-reserved are False."""
    text = (licence or "").strip()
    if not text or _RESTRICTED.search(text):
        return False
    return bool(_OPEN.match(text))


def corpus_files(out: Path, manifest: dict[str, Any], folder: str, suffix: str,
                 error: type[Exception]) -> list[Path]:
    """The corpus's FOLDER/*SUFFIX files in order (documents/*.parquet, dropped/*.jsonl). Those manifest.json
    lists must all be there (`error` naming a missing one: the corpus is incomplete), and only those are
    read; a manifest without a file list (an older corpus) gets every matching file."""
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        return [Path(p) for p in sorted(glob.glob(str(out / folder / f"*{suffix}")))]
    paths = [out / rel for rel in sorted(listed) if rel.startswith(f"{folder}/") and rel.endswith(suffix)]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise error(f"{missing[0]}{more}, listed in manifest.json, is missing; run `gap verify {out}`")
    return paths


def documents_batches(out: Path, manifest: dict[str, Any], error: type[Exception], columns: list[str] | None = None):
    """The corpus's kept documents as record batches (1,024 documents each), file by file in order; `error`
    naming a documents file that is missing or not readable."""
    for path in corpus_files(out, manifest, "documents", ".parquet", error):
        try:
            yield from pq.ParquetFile(path).iter_batches(batch_size=1024, columns=columns)
        except (pa.ArrowException, OSError) as exc:
            raise error(f"{path}: not a readable documents file ({' '.join(str(exc).split())}); "
                        f"run `gap verify {out}`") from None


def iter_documents(out: Path, manifest: dict[str, Any]):
    """Every kept document of the corpus, one record batch in memory at a time."""
    for batch in documents_batches(out, manifest, ExportError):
        yield from batch.to_pylist()


# Documents per Parquet row group of the export (and per batch held in memory while writing).
ROW_GROUP_DOCUMENTS = 1024


def export_documents(out_dir: str | Path, dest: str | Path | None = None,
                     redistributable_only: bool = True) -> dict[str, Any]:
    """Write DEST/documents.jsonl and DEST/documents.parquet (default DEST: OUT/export/redistributable),
    in the corpus's own document order (deterministic: documents/ is byte-identical whatever the worker
    count); returns a summary {exported, excluded_by_licence, excluded_by_source, per_source, files}.
    Streams: one batch of documents in memory, whatever the corpus size."""
    out = Path(out_dir)
    manifest = read_manifest(out)
    sources = manifest.get("sources", {})
    dest = Path(dest) if dest else out / "export" / ("redistributable" if redistributable_only else "all")
    check_destination(dest, EXPORT_FILES)
    dest.mkdir(parents=True, exist_ok=True)

    exported = 0
    excluded_licence: dict[str, int] = {}
    excluded_source: dict[str, int] = {}
    per_source: dict[str, dict[str, Any]] = {}
    jsonl = dest / "documents.jsonl"
    parquet = dest / "documents.parquet"
    jsonl_tmp, parquet_tmp = jsonl.with_suffix(".jsonl.tmp"), parquet.with_suffix(".parquet.tmp")
    try:
        with open(jsonl_tmp, "w", encoding="utf-8") as lines, \
                pq.ParquetWriter(parquet_tmp, DOCUMENT_SCHEMA, compression="zstd") as table:
            batch: list[dict[str, Any]] = []
            for doc in iter_documents(out, manifest):
                if redistributable_only:
                    if sources.get(doc["source"], {}).get("redistributable") is False:
                        excluded_source[doc["source"]] = excluded_source.get(doc["source"], 0) + 1
                        continue
                    if not licence_allows_redistribution(doc.get("license")):
                        key = doc.get("license") or "unknown"
                        excluded_licence[key] = excluded_licence.get(key, 0) + 1
                        continue
                lines.write(json.dumps(doc, ensure_ascii=False, sort_keys=True) + "\n")
                entry = per_source.setdefault(doc["source"], {"documents": 0, "chars": 0, "licences": {}})
                entry["documents"] += 1
                entry["chars"] += len(doc["text"])
                entry["licences"][doc["license"]] = entry["licences"].get(doc["license"], 0) + 1
                exported += 1
                batch.append(doc)
                if len(batch) == ROW_GROUP_DOCUMENTS:
                    table.write_table(pa.Table.from_pylist(batch, schema=DOCUMENT_SCHEMA))
                    batch = []
            if batch:
                table.write_table(pa.Table.from_pylist(batch, schema=DOCUMENT_SCHEMA))
    except BaseException:
        for tmp in (jsonl_tmp, parquet_tmp):
            tmp.unlink(missing_ok=True)
        raise
    os.replace(jsonl_tmp, jsonl)
    os.replace(parquet_tmp, parquet)

    summary = {"exported": exported, "excluded_by_licence": dict(sorted(excluded_licence.items())),
               "excluded_by_source": dict(sorted(excluded_source.items())),
               "per_source": dict(sorted(per_source.items())),
               "files": [str(jsonl), str(parquet)], "redistributable_only": redistributable_only}
    (dest / "export.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return summary
