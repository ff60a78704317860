"""`gap verify OUT`: recompute every checksum and count of a built corpus and check the accounting.

Each problem is one line naming the file or manifest key and what differs, e.g.
  checksum mismatch: train/train-00001-of-00003.arrow has sha256 1f2e…, manifest says 9a8b…
  missing shard: validation/validation-00000-of-00001.arrow is listed in manifest.json but not on disk
  row count: train/train-00000-of-00003.arrow has 120 rows, manifest says 121
An empty list means the corpus is exactly what its manifest says.

Nothing in the manifest is trusted: its types are checked against a JSON Schema first; the config hash is
recomputed from the stored config; every listed file (shards, tokenizer, documents/, dropped/, quarantine/)
is hashed; the accounting is recounted from the drop, quarantine and document files, in total, per stage
and per source; a path that leaves the corpus (absolute, `..`, a link outside) is refused and never read;
and every file in the corpus that the manifest does not list is reported. `_build/` (the build's own
working area) and `report/` (written later by `gap report`) are neither reported nor trusted.
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas.checksum import sha256_file, sha256_stream
from schemas.events import drop_from_json
from schemas.raw import read_parquet_file
from schemas.manifest import MANIFEST_JSON_SCHEMA, ManifestError, validate_manifest
from schemas.shard import token_dtype, validate_shard_schema

SHARE_TOLERANCE = 0.001  # 0.1 percentage point
# Outcome files the manifest lists with their sha256 (beside shards and tokenizer): folder -> suffix.
HASHED_FOLDERS = {"documents": ".parquet", "dropped": ".jsonl", "quarantine": ".jsonl"}
# Folders that commands write for themselves: not listed in the manifest, never reported, never trusted.
WORK_DIRS = ("_build", "report")


class CorpusFiles:
    """The files of a built corpus by their manifest-relative names: a local folder (shards memory-mapped)
    or a remote one (gs://, s3://..., read through Beam's FileSystems, as `gap build` wrote it)."""

    def __init__(self, root: str | Path, filesystem_options: list[str] | None = None):
        self.root = str(root)
        self.remote = "://" in self.root
        if self.remote:
            from apache_beam.io.filesystems import FileSystems
            from apache_beam.options.pipeline_options import PipelineOptions

            # Beam's S3 filesystem has no client until it is given options (region, endpoint, keys).
            FileSystems.set_options(PipelineOptions(filesystem_options or []))
            self._fs = FileSystems

    def path(self, rel: str) -> str:
        return self._fs.join(self.root, rel) if self.remote else os.path.join(self.root, rel)

    def is_file(self, rel: str) -> bool:
        return self._fs.exists(self.path(rel)) if self.remote else os.path.isfile(self.path(rel))

    def read_bytes(self, rel: str) -> bytes:
        if self.remote:
            from gap_pipeline.outputs import read_bytes
            return read_bytes(self.path(rel))
        return Path(self.path(rel)).read_bytes()

    def sha256(self, rel: str) -> str:
        if self.remote:
            with self._fs.open(self.path(rel)) as fh:
                return sha256_stream(fh)
        return sha256_file(self.path(rel))

    def arrow_stream(self, rel: str) -> pa.Table:
        if self.remote:
            return pa.ipc.open_stream(pa.BufferReader(self.read_bytes(rel))).read_all()
        with pa.memory_map(self.path(rel), "r") as source:
            return pa.ipc.open_stream(source).read_all()

    def parquet_rows(self, rel: str) -> int:
        if self.remote:   # seekable: only the footer is fetched
            with self._fs.open(self.path(rel)) as fh:
                return pq.ParquetFile(fh, pre_buffer=False).metadata.num_rows
        return pq.ParquetFile(self.path(rel)).metadata.num_rows

    def parquet_column(self, rel: str, column: str) -> pa.ChunkedArray:
        if self.remote:
            with self._fs.open(self.path(rel)) as fh:
                return read_parquet_file(fh, columns=[column]).column(column)
        return pq.read_table(self.path(rel), columns=[column]).column(column)

    def unsafe(self, rel: Any) -> str | None:
        """Why a manifest path may not be read (None: it is a plain path inside the corpus)."""
        if not isinstance(rel, str) or not rel or "\x00" in rel:
            return "not a path"
        if rel.startswith(("/", "\\")) or "://" in rel or re.match(r"^[A-Za-z]:", rel):
            return "an absolute path"
        if "\\" in rel or any(part in ("", ".", "..") for part in rel.split("/")):
            return "not a plain relative path ('..', '.', '//' or a backslash)"
        if not self.remote:
            root = os.path.realpath(self.root)
            target = os.path.realpath(os.path.join(self.root, rel))
            if os.path.commonpath([root, target]) != root:
                return f"a link that leads out of the corpus (to {target})"
        return None

    def inventory(self) -> tuple[list[str], list[str]]:
        """(every file in the corpus, links that lead out of it), relative names; links are not followed."""
        if self.remote:
            prefix = self.root.rstrip("/") + "/"
            matched = self._fs.match([prefix + "**"])[0].metadata_list
            return sorted(m.path[len(prefix):] for m in matched if m.path.startswith(prefix)), []
        root = os.path.realpath(self.root)
        files, links_out = [], []
        for folder, dirs, names in os.walk(self.root):
            for name in dirs + names:
                full = os.path.join(folder, name)
                rel = os.path.relpath(full, self.root).replace(os.sep, "/")
                if os.path.islink(full) and os.path.commonpath([root, os.path.realpath(full)]) != root:
                    links_out.append(rel)
                elif name in names:
                    files.append(rel)
        return sorted(files), sorted(links_out)


def load_manifest(out: str | Path | CorpusFiles) -> dict[str, Any]:
    manifest = _read_manifest(out if isinstance(out, CorpusFiles) else CorpusFiles(out))
    validate_manifest(manifest)
    return manifest


def _read_manifest(files: CorpusFiles) -> Any:
    if not files.remote and os.path.isdir(files.path("manifest.json")):
        raise ManifestError(f"no manifest: {files.path('manifest.json')} is a folder, not a file")
    if not files.is_file("manifest.json"):
        raise ManifestError(f"no manifest: {files.path('manifest.json')} does not exist "
                            f"(is {files.root} a built corpus?)")
    try:
        return json.loads(files.read_bytes("manifest.json").decode("utf-8"))
    except ValueError as exc:   # also UnicodeDecodeError
        raise ManifestError(f"manifest.json is not valid JSON: {exc}") from exc


def schema_problems(manifest: Any) -> list[str]:
    """Wrong types or missing fields in the manifest, one line each, naming the field."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(MANIFEST_JSON_SCHEMA)
    problems = []
    for err in sorted(validator.iter_errors(manifest), key=lambda e: [str(p) for p in e.absolute_path]):
        where = ".".join(str(p) for p in err.absolute_path) or "top level"
        message = err.message if len(err.message) < 200 else err.message[:200] + "..."
        problems.append(f"manifest: {where}: {message}")
    return problems


def verify_corpus(out_dir: str | Path, filesystem_options: list[str] | None = None) -> list[str]:
    """All problems found in the corpus at `out_dir` (empty when it is consistent). `filesystem_options`
    are Beam options for a remote corpus (e.g. `--s3_region_name`), as given to `gap build`."""
    out = CorpusFiles(out_dir, filesystem_options)
    try:
        manifest = _read_manifest(out)
    except ManifestError as exc:
        return [str(exc)]
    except Exception as exc:  # noqa: BLE001 - remote: no filesystem for the scheme, credentials, network
        return [f"cannot read {out.root}: {exc}"]
    problems = schema_problems(manifest)
    if problems:   # the other checks rely on the types
        return problems
    refused: set[str] = set()
    problems += _check_paths(out, manifest, refused)
    for check in (_check_config, _check_tokenizer, _check_files, _check_shards, _check_inventory,
                  _check_accounting, _check_mixture):
        try:
            problems += check(out, manifest, refused)
        except Exception as exc:  # noqa: BLE001 - a damaged file must be a finding, never a traceback
            name = check.__name__.removeprefix("_check_")
            problems.append(f"{name}: could not be checked: {type(exc).__name__}: {' '.join(str(exc).split())}")
    return problems


def _listed_paths(manifest: dict[str, Any]) -> list[str]:
    return [manifest["tokenizer"]["file"], *(s["path"] for s in manifest["shards"]), *manifest["files"]]


def _check_paths(out: CorpusFiles, manifest: dict[str, Any], refused: set[str]) -> list[str]:
    problems = []
    for rel in _listed_paths(manifest):
        why = out.unsafe(rel)
        if why and rel not in refused:
            refused.add(rel)
            problems.append(f"unsafe path: manifest.json lists {rel!r}, {why}; not read")
    return problems


def _check_config(out: CorpusFiles, manifest: dict[str, Any], refused: set[str]) -> list[str]:
    from gap_pipeline.config import ConfigError, config_hash, validate_config

    cfg, problems = manifest["config"], []
    actual = config_hash(cfg)
    if actual != manifest["config_hash"]:
        problems.append(f"config hash: the stored config hashes to {actual}, manifest config_hash says "
                        f"{manifest['config_hash']}")
    try:
        validate_config(cfg)
    except ConfigError as exc:
        problems.append(f"config: the stored config is not valid: {exc}")
    seq_len = cfg.get("packing", {}).get("seq_len") if isinstance(cfg.get("packing"), dict) else None
    if seq_len != manifest["tokenizer"]["seq_len"]:
        problems.append(f"config: packing.seq_len is {seq_len}, the tokenizer section says "
                        f"{manifest['tokenizer']['seq_len']}")
    return problems


def _check_tokenizer(out: CorpusFiles, manifest: dict[str, Any], refused: set[str]) -> list[str]:
    tok = manifest["tokenizer"]
    name = tok["file"]
    if name in refused:
        return []
    if not out.is_file(name):
        return [f"missing tokenizer: {name} is named in manifest.json but not on disk"]
    problems = []
    digest = out.sha256(name)
    if digest != tok["sha256"]:
        problems.append(f"checksum mismatch: {name} has sha256 {digest}, manifest says {tok['sha256']}")
        return problems
    from transforms.tokenizer import HUGGINGFACE, load_encoder
    kind = tok.get("kind", "sentencepiece")
    try:
        enc = load_encoder(out.read_bytes(name), kind, bos_token=tok.get("bos_token"), eos_token=tok.get("eos_token"))
    except Exception as exc:  # noqa: BLE001 - any load failure is the finding
        what = "a Hugging Face tokenizer.json" if kind == HUGGINGFACE else "a sentencepiece model"
        return [f"tokenizer: {name} does not load as {what}: {exc}"]
    for key, actual in (("vocab_size", enc.vocab_size), ("bos_id", enc.bos_id), ("eos_id", enc.eos_id)):
        if tok[key] != actual:
            problems.append(f"tokenizer: manifest {key} is {tok[key]}, {name} has {actual}")
    return problems


def _listed_file_problems(out: CorpusFiles, rel: str, sha256: str, kind: str) -> list[str]:
    """A file the manifest lists: missing, or its sha256 differs from the recorded one."""
    if not out.is_file(rel):
        return [f"missing {kind}: {rel} is listed in manifest.json but not on disk"]
    digest = out.sha256(rel)
    if digest != sha256:
        return [f"checksum mismatch: {rel} has sha256 {digest}, manifest says {sha256}"]
    return []


def _check_files(out: CorpusFiles, manifest: dict[str, Any], refused: set[str]) -> list[str]:
    """documents/, dropped/ and quarantine/ files against the sha256 and size the build recorded."""
    problems = []
    for rel, entry in sorted(manifest["files"].items()):
        if rel not in refused:
            problems += _listed_file_problems(out, rel, entry["sha256"], "file")
    listed_folders = {rel.split("/", 1)[0] for rel in manifest["files"]}
    for folder in sorted(set(HASHED_FOLDERS) - listed_folders):
        problems.append(f"files: manifest.json lists no {folder}/ file (every build writes at least one)")
    return problems


def _check_shards(out: CorpusFiles, manifest: dict[str, Any], refused: set[str]) -> list[str]:
    problems: list[str] = []
    seq_len = manifest["tokenizer"]["seq_len"]
    vocab_size = manifest["tokenizer"]["vocab_size"]
    listed = set()
    for shard in manifest["shards"]:
        rel = shard["path"]
        listed.add(rel)
        if rel in refused:
            continue
        found = _listed_file_problems(out, rel, shard["sha256"], "shard")
        problems += found
        if found and not out.is_file(rel):
            continue
        try:
            table = out.arrow_stream(rel)
        except (pa.ArrowInvalid, OSError) as exc:
            problems.append(f"unreadable shard: {rel} is not an Arrow IPC stream: {exc}")
            continue
        try:
            validate_shard_schema(table.schema, seq_len)
        except ValueError as exc:
            problems.append(f"shard schema: {rel}: {exc}")
            continue
        ids_type = table.schema.field("input_ids").type.value_type
        if ids_type != token_dtype(vocab_size):
            problems.append(f"shard schema: {rel} stores {ids_type} ids, a vocabulary of {vocab_size} needs "
                            f"{token_dtype(vocab_size)}")
        if table.num_rows != shard["rows"]:
            problems.append(f"row count: {rel} has {table.num_rows} rows, manifest says {shard['rows']}")
        tokens = table.num_rows * (seq_len + 1)
        if tokens != shard["tokens"]:
            problems.append(f"token count: {rel} holds {tokens} tokens, manifest says {shard['tokens']}")
        if not rel.startswith(f"{shard['split']}/"):
            problems.append(f"shard split: {rel} is listed as split {shard['split']!r}")
        if table.num_rows:
            flat = table.column("input_ids").combine_chunks().flatten()
            top = pc.max(flat).as_py()
            if top >= vocab_size:
                problems.append(f"token ids: {rel} holds id {top}, outside the vocabulary of {vocab_size}")
        if "subset_rows" in shard:
            counts = pc.value_counts(table.column("subset").combine_chunks()).to_pylist()
            actual = {c["values"]: c["counts"] for c in counts}
            if actual != shard["subset_rows"]:
                problems.append(f"row count: {rel} has rows per subset {dict(sorted(actual.items()))}, "
                                f"manifest says {shard['subset_rows']}")
        if "source_rows" in shard:
            if "source" not in table.schema.names:
                problems.append(f"shard schema: {rel} has no source column, manifest counts its rows per source")
            else:
                counts = pc.value_counts(table.column("source").combine_chunks()).to_pylist()
                actual = {c["values"]: c["counts"] for c in counts}
                if actual != shard["source_rows"]:
                    problems.append(f"row count: {rel} has rows per source {dict(sorted(actual.items()))}, "
                                    f"manifest says {shard['source_rows']}")
    return problems


def _check_inventory(out: CorpusFiles, manifest: dict[str, Any], refused: set[str]) -> list[str]:
    """Every file in the corpus must be one the manifest lists (work folders aside)."""
    files, links_out = out.inventory()
    problems = [f"link out of the corpus: {rel} leads outside {out.root}; not followed" for rel in links_out]
    expected = {"manifest.json", *_listed_paths(manifest)}
    for rel in files:
        if rel in expected or rel.split("/", 1)[0] in WORK_DIRS:
            continue
        if rel.endswith(".arrow") and rel.split("/", 1)[0] in ("train", "validation"):
            problems.append(f"unlisted shard: {rel} is on disk but not in manifest.json")
        else:
            problems.append(f"unexpected file: {rel} is in the corpus but not listed in manifest.json")
    return problems


def _readable(out: CorpusFiles, manifest: dict[str, Any], refused: set[str], folder: str) -> list[str]:
    return sorted(rel for rel in manifest["files"]
                  if rel.startswith(folder + "/") and rel not in refused and out.is_file(rel))


def recount(out: CorpusFiles, manifest: dict[str, Any], refused: set[str]) -> tuple[dict[str, Any], list[str]]:
    """What the outcome files themselves say: drops per stage/reason and per source, quarantined records
    and kept documents per source (lines split on '\\n' only)."""
    problems: list[str] = []
    drops_by_stage: dict[str, Counter] = defaultdict(Counter)
    drops_by_source: dict[str, dict[str, Counter]] = defaultdict(lambda: defaultdict(Counter))
    quarantined: Counter = Counter()
    kept: Counter = Counter()
    for rel in _readable(out, manifest, refused, "dropped"):
        for n, line in enumerate(out.read_bytes(rel).decode("utf-8", errors="replace").split("\n"), 1):
            if not line.strip():
                continue
            try:
                drop = drop_from_json(line)
            except Exception as exc:  # noqa: BLE001 - a damaged line is a finding
                problems.append(f"accounting: {rel} line {n} is not a drop record: {exc}")
                continue
            drops_by_stage[drop.stage][drop.reason] += 1
            drops_by_source[drop.source][drop.stage][drop.reason] += 1
    for rel in _readable(out, manifest, refused, "quarantine"):
        for n, line in enumerate(out.read_bytes(rel).decode("utf-8", errors="replace").split("\n"), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                quarantined[str(record["source"])] += 1
            except (ValueError, KeyError, TypeError) as exc:
                problems.append(f"accounting: {rel} line {n} is not a quarantine record: {exc!r}")
    for rel in _readable(out, manifest, refused, "documents"):
        for row in pc.value_counts(out.parquet_column(rel, "source").combine_chunks()).to_pylist():
            kept[row["values"]] += row["counts"]
    counts = {"drops_by_stage": drops_by_stage, "drops_by_source": drops_by_source, "quarantined": quarantined,
              "kept": kept}
    return counts, problems


def _plain(counter: dict) -> dict:
    return {k: _plain(v) if isinstance(v, dict) else v for k, v in sorted(counter.items()) if v}


def _check_accounting(out: CorpusFiles, manifest: dict[str, Any], refused: set[str]) -> list[str]:
    counts, problems = recount(out, manifest, refused)
    acc = manifest["accounting"]
    raw, docs = acc["raw_records"], acc["documents"]
    n_drops = sum(sum(c.values()) for c in counts["drops_by_stage"].values())
    n_quarantined, n_kept = sum(counts["quarantined"].values()), sum(counts["kept"].values())
    if raw:
        superseded = raw.get("superseded", 0)  # older versions of re-crawled pages
        if raw.get("in") != raw.get("excluded", 0) + superseded + raw.get("quarantined", 0) + raw.get("extracted", 0):
            problems.append(f"accounting: raw records in {raw.get('in')} != excluded {raw.get('excluded')} + "
                            f"superseded {superseded} + quarantined {raw.get('quarantined')} + extracted "
                            f"{raw.get('extracted')}")
        if n_quarantined != raw.get("quarantined"):
            problems.append(f"accounting: quarantine/*.jsonl holds {n_quarantined} records, manifest says "
                            f"{raw.get('quarantined')}")
    if docs:
        if docs.get("extracted") != docs.get("dropped", 0) + docs.get("kept", 0):
            problems.append(f"accounting: documents extracted {docs.get('extracted')} != dropped {docs.get('dropped')} "
                            f"+ kept {docs.get('kept')}")
        if "tokenized" in docs and docs["tokenized"] != docs.get("kept"):
            problems.append(f"accounting: {docs.get('kept')} documents kept but {docs['tokenized']} tokenized")
        if n_drops != docs.get("dropped"):
            problems.append(f"accounting: dropped/*.jsonl holds {n_drops} drops, manifest says {docs.get('dropped')}")
        if n_kept != docs.get("kept"):
            problems.append(f"accounting: documents/*.parquet holds {n_kept} documents, manifest says {docs.get('kept')}")
    # Per stage: the reasons counted in the drop files, exactly.
    stages = manifest["stages"]
    for name in sorted(set(stages) | set(counts["drops_by_stage"])):
        found = _plain(counts["drops_by_stage"].get(name, {}))
        said = _plain(stages.get(name, {}).get("dropped", {}))
        if found != said:
            problems.append(f"accounting: stage {name}: dropped/*.jsonl holds drops {found}, manifest says {said}")
    problems += _check_sources(manifest, counts)
    problems += _check_stage_flow(manifest)
    if acc.get("balanced") is False:
        problems.append("accounting: manifest marks the accounting as not balanced")
    return problems


def _check_sources(manifest: dict[str, Any], counts: dict[str, Any]) -> list[str]:
    """Each source's counts against the files and against its own identities; the sources against the totals."""
    problems = []
    sources = manifest["sources"]
    names = sorted(set(sources) | set(counts["kept"]) | set(counts["quarantined"]) | set(counts["drops_by_source"]))
    for name in names:
        s = sources.get(name)
        if s is None:
            problems.append(f"accounting: source {name} has documents or records in the outcome files but no entry "
                            "in manifest sources")
            continue
        if "documents_kept" in s and s["documents_kept"] != counts["kept"].get(name, 0):
            problems.append(f"accounting: source {name} keeps {s['documents_kept']} documents, documents/*.parquet "
                            f"holds {counts['kept'].get(name, 0)} of it")
        if "raw_quarantined" in s and s["raw_quarantined"] != counts["quarantined"].get(name, 0):
            problems.append(f"accounting: source {name} has {s['raw_quarantined']} quarantined records, "
                            f"quarantine/*.jsonl holds {counts['quarantined'].get(name, 0)} of it")
        found = _plain(counts["drops_by_source"].get(name, {}))
        if "dropped" in s and _plain(s["dropped"]) != found:
            problems.append(f"accounting: source {name} drops {_plain(s['dropped'])}, dropped/*.jsonl holds {found}")
        if {"raw_records", "raw_extracted"} <= set(s):
            parts = sum(s.get(k, 0) for k in ("raw_excluded", "raw_superseded", "raw_quarantined", "raw_extracted"))
            if s["raw_records"] != parts:
                problems.append(f"accounting: source {name}: raw records {s['raw_records']} != excluded + superseded "
                                f"+ quarantined + extracted ({parts})")
        if {"documents_extracted", "documents_kept"} <= set(s):
            n_dropped = sum(sum(r.values()) for r in found.values())
            if s["documents_extracted"] != n_dropped + s["documents_kept"]:
                problems.append(f"accounting: source {name}: documents extracted {s['documents_extracted']} != "
                                f"dropped {n_dropped} + kept {s['documents_kept']}")
    acc = manifest["accounting"]
    for section, pairs in (("raw_records", (("raw_records", "in"), ("raw_excluded", "excluded"),
                                            ("raw_superseded", "superseded"), ("raw_quarantined", "quarantined"),
                                            ("raw_extracted", "extracted"))),
                           ("documents", (("documents_extracted", "extracted"), ("documents_kept", "kept")))):
        for field, total in pairs:
            if total not in acc[section] or not any(field in s for s in sources.values()):
                continue
            summed = sum(s.get(field, 0) for s in sources.values())
            if summed != acc[section][total]:
                problems.append(f"accounting: sources' {field} add up to {summed}, accounting {section}.{total} "
                                f"says {acc[section][total]}")
    return problems


def _check_stage_flow(manifest: dict[str, Any]) -> list[str]:
    problems = []
    docs = manifest["accounting"]["documents"]
    # Each stage's output is the next one's input (JSON key order is not stage order: sort by flow).
    stages = sorted(manifest["stages"].items(),
                    key=lambda kv: (-kv[1].get("docs_in", 0), -kv[1].get("docs_out", 0), kv[0]))
    for (name_a, a), (name_b, b) in zip(stages, stages[1:]):
        if "docs_out" in a and "docs_in" in b and a["docs_out"] != b["docs_in"]:
            problems.append(f"accounting: stage {name_a} outputs {a['docs_out']} documents but {name_b} "
                            f"takes {b['docs_in']}")
    for name, s in stages:
        if {"docs_in", "docs_out", "dropped"} <= set(s) and s["docs_in"] - sum(s["dropped"].values()) != s["docs_out"]:
            problems.append(f"accounting: stage {name}: {s['docs_in']} in - {sum(s['dropped'].values())} dropped "
                            f"!= {s['docs_out']} out")
    if stages and "docs_out" in stages[-1][1] and stages[-1][1]["docs_out"] != docs.get("kept"):
        problems.append(f"accounting: the last stage ({stages[-1][0]}) outputs {stages[-1][1]['docs_out']} "
                        f"documents, manifest keeps {docs.get('kept')}")
    if stages and "docs_in" in stages[0][1] and stages[0][1]["docs_in"] != docs.get("extracted"):
        problems.append(f"accounting: the first stage ({stages[0][0]}) takes {stages[0][1]['docs_in']} "
                        f"documents, manifest extracted {docs.get('extracted')}")
    return problems


def _check_mixture(out: CorpusFiles, manifest: dict[str, Any], refused: set[str]) -> list[str]:
    mixture = manifest["mixture"]
    train = [s for s in manifest["shards"] if s["split"] == "train"]
    train_tokens = sum(s["tokens"] for s in train)
    problems: list[str] = []
    if "train_tokens" in mixture and mixture["train_tokens"] != train_tokens:
        problems.append(f"mixture: train shards hold {train_tokens} tokens, mixture says {mixture['train_tokens']}")
    tokens_per_row = manifest["tokenizer"]["seq_len"] + 1
    problems += _check_shares(mixture, "subset", mixture.get("subsets", {}), train, "subset_rows",
                              tokens_per_row, train_tokens)
    if mixture.get("by") == "source" or "sources" in mixture:
        if "sources" not in mixture:
            problems.append("mixture: mixture.by is source but the mixture lists no sources")
        elif any("source_rows" not in s for s in train):
            problems.append("mixture: the mixture is by source but the train shards do not count rows per source")
        else:
            problems += _check_shares(mixture, "source", mixture["sources"], train, "source_rows",
                                      tokens_per_row, train_tokens)
    return problems


def _check_shares(mixture: dict[str, Any], kind: str, entries: dict[str, Any], train: list[dict[str, Any]],
                  rows_field: str, tokens_per_row: int, train_tokens: int) -> list[str]:
    """Each mixture entry (a subset or a source) against the train shards' rows of it: tokens, realised
    share, and (mode shares) the target share within 0.1 percentage point."""
    problems: list[str] = []
    counted: dict[str, int] = {}
    for shard in train:
        for name, rows in shard.get(rows_field, {}).items():
            counted[name] = counted.get(name, 0) + rows * tokens_per_row
    for name, entry in sorted(entries.items()):
        tokens = entry.get("train_tokens", entry.get("tokens"))
        if counted and tokens is not None and counted.get(name, 0) != tokens:
            problems.append(f"mixture: train shards hold {counted.get(name, 0)} tokens of {kind} {name}, mixture "
                            f"says {tokens}")
        if train_tokens and tokens is not None:
            share = tokens / train_tokens
            if abs(share - entry.get("realised_share", share)) > 1e-6:
                problems.append(f"mixture: {kind} {name} realised_share is {entry['realised_share']:.6f}, shards "
                                f"give {share:.6f}")
            if mixture.get("mode") == "shares" and "target_share" in entry \
                    and abs(share - entry["target_share"]) > SHARE_TOLERANCE:
                problems.append(f"mixture: {kind} {name} has {share:.4%} of train tokens, target "
                                f"{entry['target_share']:.4%} (more than 0.1 percentage point off)")
    for name in sorted(set(counted) - set(entries)):
        problems.append(f"mixture: train shards hold {counted[name]} tokens of {kind} {name}, which the mixture "
                        f"does not list")
    return problems
