"""Raw parts read under Beam (transforms/parts.py): bad rows quarantined with the reason, only a page's newest
version kept."""
from __future__ import annotations

import hashlib

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.testing.util import assert_that, equal_to

from gap_pipeline.build import list_raw_parts
from schemas.raw import RAW_SCHEMA
from tests.transforms._helpers import _record
from transforms.parts import QUARANTINE, ScanRawPart, newest_versions


def test_bad_rows_are_quarantined_not_lost(tmp_path):
    rows = [_record("ok"), _record("badsum"), _record("badtype"), _record("other", source="nice")]
    rows[1]["sha256"] = hashlib.sha256(b"something else").hexdigest()
    rows[2]["content_type"] = "docx"
    path = tmp_path / "part.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=RAW_SCHEMA), path)
    with beam.Pipeline(runner="FnApiRunner") as p:
        out = (p | beam.Create([(0, str(path))])
               | beam.ParDo(ScanRawPart(("cdc",))).with_outputs(QUARANTINE, "stats", main="raw"))
        assert_that(out["raw"] | "Urls" >> beam.Map(lambda kv: kv[0][1]), equal_to(["ok"]), label="kept")
        assert_that(out[QUARANTINE] | "QUrls" >> beam.Map(lambda q: (q.url, "sha256" in q.error or "content_type" in q.error)),
                    equal_to([("badsum", True), ("badtype", True)]), label="quarantined")
        stats = out["stats"] | beam.Map(lambda kv: kv[0])
        assert_that(stats, equal_to(["raw_in\tcdc"] * 3 + ["raw_in\tnice", "raw_excluded\tnice"]), label="stats")


def test_only_the_newest_version_of_a_recrawled_page_is_built(tmp_path):
    old = tmp_path / "cdc" / "part-000000.parquet"
    new = tmp_path / "cdc" / "part-000001.parquet"
    old.parent.mkdir()
    pq.write_table(pa.Table.from_pylist([_record("page", b"old text"), _record("other", b"x")], schema=RAW_SCHEMA), old)
    pq.write_table(pa.Table.from_pylist([_record("page", b"new text")], schema=RAW_SCHEMA), new)
    with beam.Pipeline(runner="FnApiRunner") as p:
        read = (p | beam.Create(list(enumerate(list_raw_parts(str(tmp_path)))))
                | beam.ParDo(ScanRawPart(())).with_outputs(QUARANTINE, "stats", main="raw"))
        versions = newest_versions(read["raw"])
        # Keys only: the older version's (part, row) is skipped when the part is extracted.
        assert_that(versions.losers, equal_to([(0, 0)]), label="older")
        assert_that(versions["stats"], equal_to([("raw_superseded\tcdc", (1, 0, 0))]), label="superseded")
