import copy

import pytest

from scrapers.specs import (SpecError, extraction_rules, host_allowed, load_spec, load_spec_file, load_specs,
                            validate_spec)

MEDITRON = {"aafp", "cco", "cdc", "cma", "cps", "drugs", "gc", "icrc", "idsa", "magic", "mayo", "nice", "rch",
            "spor", "who", "wikidoc"}


def test_every_source_ships_a_valid_spec():
    specs = load_specs()
    assert MEDITRON | {"pubmed_guidelines", "medlineplus", "pmc", "pubmed", "replay"} <= set(specs)
    for name, spec in specs.items():
        assert spec["id"] == name
        assert isinstance(spec["redistributable"], bool)
        assert spec["subset"] in ("guidelines", "abstracts", "papers", "replay")
    assert specs["pmc"]["subset"] == "papers" and specs["pmc"]["license"] == "per-article"
    assert specs["pubmed"]["subset"] == "abstracts" and specs["replay"]["subset"] == "replay"
    assert specs["magic"]["country"] == "NO"  # YAML would read a bare NO as false


def test_rules_are_content_and_cleaning():
    rules = extraction_rules(load_spec("nice"))
    assert set(rules) == {"content", "cleaning"} and rules["cleaning"]["min_length"] == 300


@pytest.mark.parametrize("mutate, message", [
    (lambda s: s.pop("license"), "license"),
    (lambda s: s.update(subset="blogs"), "subset"),
    (lambda s: s.update(priority="high"), "priority"),
    (lambda s: s["discovery"].update(article_patterns=["(unclosed"]), "bad regex"),
    (lambda s: s["discovery"].update(start_urls=["https://evil.example.com/"]), "outside allowed_domains"),
    (lambda s: s.update(hook="does_not_exist"), "hook module"),
    (lambda s: s["discovery"].update(start_urls=["https://www.nice.org.uk:99999/guidance"]), "Port out of range"),
    (lambda s: s["discovery"].update(start_urls=["https://www.nice.org.uk:http/guidance"]), "start URL"),
    (lambda s: s.update(surprise=1), "surprise"),
    (lambda s: s["discovery"].update(article_selectors=["a[[["]),
     r"discovery.article_selectors: bad CSS selector 'a\[\[\[': Malformed attribute selector"),
    (lambda s: s["discovery"].update(pagination={"type": "next_link", "selector": "a:nth-child("}),
     "discovery.pagination.selector: bad CSS selector"),
    (lambda s: s["content"].update(remove_selectors=["nav", "div >> p"]), "content.remove_selectors: bad CSS selector"),
    (lambda s: s["content"].update(title_selector="h1]"), "content.title_selector: bad CSS selector"),
])
def test_invalid_specs_are_rejected_with_the_field(mutate, message):
    spec = copy.deepcopy(load_spec("nice"))
    mutate(spec)
    with pytest.raises(SpecError, match=message):
        validate_spec(spec, "nice")


def test_unknown_source():
    with pytest.raises(SpecError, match="unknown source"):
        load_spec("nope")


def test_host_allowed():
    assert host_allowed("www.nice.org.uk", ["nice.org.uk"])
    assert not host_allowed("nice.org.uk.evil.com", ["nice.org.uk"])
    assert not host_allowed("evilnice.org.uk", ["nice.org.uk"])


def test_spec_quality_section_takes_every_quality_threshold_and_checks_ranges():
    from scrapers.specs import spec_schema
    from transforms.quality import THRESHOLD_KEYS
    props = spec_schema()
    assert set(props["properties"]["quality"]["properties"]) == set(THRESHOLD_KEYS)
    spec = load_spec("cdc")
    spec["quality"] = {"max_dup_ngram_fraction": 0.6, "min_words": None, "min_prose_words": 30}
    assert validate_spec(spec, "cdc")["quality"]["min_prose_words"] == 30
    for bad, where in (({"max_dup_ngram_fraction": 1.5}, "quality.max_dup_ngram_fraction"),
                       ({"min_words": 2.5}, "quality.min_words"), ({"min_wrds": 3}, "quality")):
        spec["quality"] = bad
        with pytest.raises(SpecError, match=where):
            validate_spec(spec, "cdc")


def test_a_spec_file_that_cannot_be_read_is_a_spec_error(tmp_path):
    (tmp_path / "binary.yaml").write_bytes(b"id: x\n\xff\xfe\n")
    (tmp_path / "folder.yaml").mkdir()
    for name, message in (("binary.yaml", "not valid UTF-8"), ("folder.yaml", "cannot read"),
                          ("missing.yaml", "cannot read")):
        with pytest.raises(SpecError, match=message):
            load_spec_file(tmp_path / name)
