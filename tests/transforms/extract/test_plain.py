"""transforms/extract/plain.py: `text` and `json` raw records (replay text, pre-extracted articles) become
documents; content that is not UTF-8, not JSON or has no text is refused with a one-line reason."""
from __future__ import annotations

import gzip
import json

import pytest

from schemas.document import document_id
from schemas.raw import RawRecord
from transforms.extract import extract_record
from transforms.extract.errors import ExtractError
from transforms.extract.options import ExtractOptions
from transforms.extract.plain import decode_text, extract_plain

URL = "file:///replay/part-0.jsonl#3"
ODD = "one\u2028two\u2029three\u0085four\x1cfive"  # legal inside JSON strings, line breaks to str.splitlines()


def _raw(content: bytes | str, content_type: str = "json", meta: dict | None = None) -> RawRecord:
    if isinstance(content, str):
        content = content.encode("utf-8")
    return RawRecord.make(source="replay", url=URL, fetched_at="2026-01-01T00:00:00+00:00", content_type=content_type,
                          content=content, license="CC-BY-4.0", meta=meta)


def _extract(raw: RawRecord):
    return extract_plain(raw, subset="replay", options=ExtractOptions())


def _refused(raw: RawRecord) -> str:
    with pytest.raises(ExtractError) as info:
        _extract(raw)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_text_record_is_one_document_named_by_its_url():
    [doc] = _extract(_raw("\ufeffLine one\r\n" + ODD + "\n", "text", meta={"title": "Titre", "lang_hint": "fr"}))
    assert doc.text == "Line one\r\n" + ODD + "\n"  # the BOM goes, everything else stays
    assert (doc.id, doc.source, doc.subset, doc.title, doc.url) == (document_id("replay", URL), "replay", "replay",
                                                                    "Titre", URL)
    assert doc.license == "CC-BY-4.0" and doc.meta == {"title": "Titre", "lang_hint": "fr"}
    assert _extract(_raw("x", "text"))[0].title == ""


def test_one_json_object_keeps_odd_separators_and_moves_other_fields_to_meta():
    item = {"id": "pmc-7", "title": "T", "text": "first " + ODD, "year": 2020, "license": "CC0-1.0"}
    for content in (json.dumps(item, ensure_ascii=False), json.dumps(item, indent=2, ensure_ascii=False),
                    json.dumps(item)):  # compact with raw U+2028, pretty-printed, \u-escaped
        [doc] = _extract(_raw(content, meta={"replay_path": "p", "year": 1999}))
        assert (doc.id, doc.title, doc.text) == (document_id("replay", "pmc-7"), "T", "first " + ODD)
        assert doc.meta == {"replay_path": "p", "year": 2020, "license": "CC0-1.0"}  # the item's fields win
        assert doc.license == "CC0-1.0"


def test_one_object_with_nested_objects_starting_lines_is_one_document():
    # json.dumps(indent=0) starts nested objects on their own line: valid JSON, though not JSON Lines
    item = {"id": "a", "text": "body", "refs": [{"pmid": "1"}, {"pmid": "2"}]}
    content = json.dumps(item, indent=0)
    assert "\n{" in content
    [doc] = _extract(_raw(content))
    assert (doc.text, doc.meta) == ("body", {"refs": [{"pmid": "1"}, {"pmid": "2"}]})


def test_json_lines_split_on_newline_only_and_keep_order():
    lines = [json.dumps({"text": "a " + ODD}, ensure_ascii=False), "", "  ",
             json.dumps({"id": "x", "text": "b"}), json.dumps({"text": "c", "title": None})]
    docs = _extract(_raw("\r\n".join(lines) + "\n"))
    assert [d.text for d in docs] == ["a " + ODD, "b", "c"]
    # items without an id are named by the record's URL and their position among the items
    assert [d.id for d in docs] == [document_id("replay", f"{URL}#0"), document_id("replay", "x"),
                                    document_id("replay", f"{URL}#2")]
    assert [d.title for d in docs] == ["", "", ""]
    assert [d.id for d in _extract(_raw("\r\n".join(lines)))] == [d.id for d in docs]  # deterministic


def test_an_id_of_zero_names_its_item_and_an_empty_id_falls_back_to_the_position():
    lines = [json.dumps({"id": 0, "text": "a"}), json.dumps({"id": "", "text": "b"}), json.dumps({"id": None, "text": "c"})]
    docs = _extract(_raw("\n".join(lines)))
    assert [d.id for d in docs] == [document_id("replay", "0"), document_id("replay", f"{URL}#1"),
                                    document_id("replay", f"{URL}#2")]


@pytest.mark.parametrize("content, message", [
    ("", "empty JSON record"),
    (" \n\t\n", "empty JSON record"),
    ('{"text": "cut in the mid', "invalid JSON: Unterminated string"),
    ('{"text": "a"}\n{"text": "b"', "line 2: invalid JSON: Expecting ',' delimiter"),
    ('{"text": "a"}\n\u2028\n{"text": "b"}', "line 2: invalid JSON"),  # a lone U+2028 is not a blank line
    ('[{"text": "a"}]', "JSON item 0 has no string 'text' field"),
    ('{"text": "a"}\n{"body": "b"}', "JSON item 1 has no string 'text' field"),
    ('{"text": ["not", "a", "string"]}', "JSON item 0 has no string 'text' field"),
    ('"just a string"', "JSON item 0 has no string 'text' field"),
])
def test_bad_json_is_refused_naming_what_is_wrong(content, message):
    assert message in _refused(_raw(content))


def test_an_empty_or_blank_text_record_is_refused():
    assert _refused(_raw("", "text")) == "empty text record"
    assert _refused(_raw("\ufeff \n\u3000\n", "text")) == "empty text record"  # BOM and Unicode spaces only


def test_content_that_is_not_utf8_is_refused_with_the_byte_offset():
    assert _refused(_raw(b"caf\xe9 au lait", "text")) == "text is not valid UTF-8 at byte 3"
    assert _refused(_raw("abc".encode("utf-16"), "json")) == "text is not valid UTF-8 at byte 0"
    # gzip is not unpacked for text and JSON: its magic number is no UTF-8
    assert _refused(_raw(gzip.compress(b'{"text": "a"}', mtime=0), "json")) == "text is not valid UTF-8 at byte 1"
    with pytest.raises(ExtractError, match="at byte 2"):
        decode_text(b"ok" + "é".encode()[:1])  # a character cut at the end (a truncated file)
    assert decode_text("\ufeffé".encode()) == "é"


def test_records_reach_it_through_extract_record_by_content_type():
    for kind in ("text", "json"):
        content = json.dumps({"text": "hello"}) if kind == "json" else "hello"
        docs = extract_record(_raw(content, kind), subset="replay", options=ExtractOptions())
        assert [d.text for d in docs] == ["hello"]
