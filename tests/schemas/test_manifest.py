"""schemas/manifest.py: reading OUT/manifest.json, shared by gap report, gap export (documents, megatron)
and the trainer's data loader."""
from __future__ import annotations

import json

import pytest

from gap_pipeline.cli import main
from gap_pipeline.training.data import DataError, load_corpus
from schemas.manifest import ManifestError, read_manifest


def test_read_manifest_names_what_is_wrong(tmp_path):
    with pytest.raises(ManifestError, match=r"no manifest: .*manifest.json does not exist \(is .* a built corpus\?\)"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ManifestError, match="manifest.json is not valid JSON"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_bytes(b'{"a": "\xff"}')
    with pytest.raises(ManifestError, match="manifest.json is not valid JSON"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(ManifestError, match="manifest.json is not a JSON object"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").unlink()
    (tmp_path / "manifest.json").mkdir()
    with pytest.raises(ManifestError, match=r"no manifest: .*manifest.json is a folder, not a file$"):
        read_manifest(tmp_path)
    (tmp_path / "manifest.json").rmdir()
    (tmp_path / "manifest.json").write_text(json.dumps({"shards": []}))
    assert read_manifest(str(tmp_path)) == {"shards": []}


@pytest.mark.parametrize("command", [["report", "--no-plots"], ["export"], ["export", "--format", "megatron"]])
def test_commands_give_one_line_for_a_broken_manifest(command, tmp_path, capsys):
    (tmp_path / "manifest.json").write_text("{truncated")
    assert main([command[0], str(tmp_path), *command[1:]]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "manifest.json is not valid JSON" in err and "Traceback" not in err


def test_the_data_loader_says_the_same(tmp_path):
    with pytest.raises(DataError, match="no manifest: .*does not exist"):
        load_corpus(tmp_path)
    (tmp_path / "manifest.json").write_text("[]")
    with pytest.raises(DataError, match="not a JSON object"):
        load_corpus(tmp_path)
