"""transforms/docfiles.py: the per-part document files that carry full texts between build phases.

Written with DocumentWriter / write_documents, read back with read_documents, named by part_file. (Which
rows a pass skips or keeps is DocumentPass's business, transforms/parts.py.)"""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.document import DOCUMENT_SCHEMA, Document
from transforms import docfiles
from transforms.docfiles import DocumentFileError, DocumentWriter, part_file, read_documents, write_documents


def _docs(n: int, start: int = 0) -> list[Document]:
    # Texts with characters str.splitlines() would split on, non-ASCII, and meta of several types.
    return [Document(id=f"d{i:05d}", source="pubmed" if i % 2 else "cdc", subset="abstracts" if i % 2 else "guidelines",
                     title=f"Titre n°{i}", text=f"Line one\u2028line two\x1c of document {i} – α β",
                     url=f"http://127.0.0.1/{i}", license="CC-BY-4.0", lang="en" if i % 3 else "",
                     lang_score=i / 1000, meta={"pmid": str(i), "priority": i % 4, "shares": {"en": 1.0}})
            for i in range(start, start + n)]


def test_part_file_is_named_after_the_part_number(tmp_path):
    assert part_file(str(tmp_path), 7) == str(tmp_path / "part-000007.parquet")
    assert part_file(str(tmp_path), 123456) == str(tmp_path / "part-123456.parquet")
    # sorted names are part order
    assert sorted([part_file("d", 10), part_file("d", 9)]) == [part_file("d", 9), part_file("d", 10)]


def test_many_row_groups_round_trip_in_order_and_byte_identical(tmp_path):
    n = 2 * docfiles.ROW_GROUP + 17  # three row groups, many read batches, a partial last one of each
    docs = _docs(n)
    first, second = part_file(str(tmp_path / "a"), 0), part_file(str(tmp_path / "b"), 0)
    assert write_documents(first, docs) == n
    meta = pq.ParquetFile(first).metadata
    assert meta.num_rows == n and meta.num_row_groups == 3
    assert [meta.row_group(i).num_rows for i in range(3)] == [docfiles.ROW_GROUP, docfiles.ROW_GROUP, 17]
    back = list(read_documents(first))
    assert back == docs  # same fields, same order: rows are matched by (part, row number) downstream
    assert write_documents(second, iter(back)) == n
    with open(first, "rb") as a, open(second, "rb") as b:
        assert a.read() == b.read()
    assert pq.read_schema(first).equals(DOCUMENT_SCHEMA, check_metadata=True)


def test_an_empty_part_is_a_valid_file_with_no_documents(tmp_path):
    path = part_file(str(tmp_path / "nested" / "folder"), 3)  # the folder is created
    writer = DocumentWriter(path)
    writer.close()
    assert writer.count == 0 and list(read_documents(path)) == []
    assert pq.ParquetFile(path).metadata.num_rows == 0
    assert write_documents(part_file(str(tmp_path), 4), []) == 0
    assert list(read_documents(part_file(str(tmp_path), 4))) == []


def test_the_file_appears_under_its_name_only_when_closed(tmp_path):
    path = part_file(str(tmp_path), 0)
    writer = DocumentWriter(path)
    for doc in _docs(docfiles.ROW_GROUP + 1):  # one row group already flushed
        writer.add(doc)
    assert not (tmp_path / "part-000000.parquet").exists() and (tmp_path / "part-000000.parquet.tmp").exists()
    writer.close()
    assert [p.name for p in tmp_path.iterdir()] == ["part-000000.parquet"]
    assert writer.count == docfiles.ROW_GROUP + 1 == len(list(read_documents(path)))


def test_a_failed_write_leaves_no_half_file_and_keeps_the_previous_one(tmp_path):
    path = part_file(str(tmp_path), 0)
    write_documents(path, _docs(3))
    before = (tmp_path / "part-000000.parquet").read_bytes()

    def failing():
        yield from _docs(docfiles.ROW_GROUP + 5, start=100)
        raise RuntimeError("the stage failed")

    with pytest.raises(RuntimeError, match="the stage failed"):
        write_documents(path, failing())
    assert [p.name for p in tmp_path.iterdir()] == ["part-000000.parquet"]  # no .tmp left
    assert (tmp_path / "part-000000.parquet").read_bytes() == before
    assert [d.id for d in read_documents(path)] == ["d00000", "d00001", "d00002"]


def test_a_truncated_file_is_a_clear_error_naming_it(tmp_path):
    path = part_file(str(tmp_path), 5)
    write_documents(path, _docs(10))
    data = (tmp_path / "part-000005.parquet").read_bytes()
    (tmp_path / "part-000005.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(DocumentFileError, match=r"part-000005\.parquet: not a complete document file .*rerun"):
        list(read_documents(path))
    (tmp_path / "part-000005.parquet").write_bytes(b"")
    with pytest.raises(DocumentFileError, match=r"part-000005\.parquet: not a complete document file"):
        list(read_documents(path))


def test_a_foreign_parquet_file_is_a_clear_error_naming_it(tmp_path):
    path = str(tmp_path / "part-000000.parquet")
    pq.write_table(pa.table({"source": ["s"], "url": ["u"], "content": [b"x"]}), path)  # e.g. a raw-store part
    with pytest.raises(DocumentFileError, match=r"part-000000\.parquet: not a document file: its columns are "
                                                r"\['source', 'url', 'content'\]"):
        list(read_documents(path))
    (tmp_path / "part-000000.parquet").write_text('{"id": "d1"}\n')  # not Parquet at all
    with pytest.raises(DocumentFileError, match="not a complete document file"):
        list(read_documents(path))


def test_damage_inside_a_file_with_a_whole_footer_is_a_clear_error_after_the_good_rows(tmp_path):
    path = part_file(str(tmp_path), 2)
    write_documents(path, _docs(2 * docfiles.ROW_GROUP + 17))
    target = tmp_path / "part-000002.parquet"
    meta = pq.ParquetFile(target).metadata
    assert docfiles.check_document_file(path) == 2 * docfiles.ROW_GROUP + 17
    last = meta.row_group(2).column(meta.schema.names.index("text"))  # the last row group's text chunk
    data = bytearray(target.read_bytes())
    start = last.data_page_offset + 8
    data[start:start + 64] = b"\xff" * 64
    target.write_bytes(bytes(data))
    assert docfiles.check_document_file(path) == 2 * docfiles.ROW_GROUP + 17  # the footer cannot tell
    seen = []
    with pytest.raises(DocumentFileError, match=r"part-000002\.parquet: damaged after its first \d+ documents .*rerun"):
        for doc in read_documents(path):
            seen.append(doc.id)
    assert seen == [d.id for d in _docs(len(seen))] and len(seen) >= 2 * docfiles.ROW_GROUP  # the whole groups came first


def test_check_reads_the_footer_and_names_a_missing_or_truncated_file(tmp_path):
    path = part_file(str(tmp_path), 0)
    with pytest.raises(DocumentFileError, match=r"part-000000\.parquet: cannot be opened"):
        docfiles.check_document_file(path)
    write_documents(path, _docs(3))
    assert docfiles.check_document_file(path) == 3
    (tmp_path / "part-000000.parquet").write_bytes((tmp_path / "part-000000.parquet").read_bytes()[:-10])
    with pytest.raises(DocumentFileError, match=r"part-000000\.parquet: not a complete document file"):
        docfiles.check_document_file(path)
