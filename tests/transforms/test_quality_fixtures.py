"""Quality on NGC guideline summaries: tests/transforms/test_quality.py checks it on the real summaries
(no stated licence, not bundled); here on the invented ones in tests/data/authored/ngc, so a clone without
../shared checks that a summary extracted, cleaned and judged with the guidelines' thresholds is kept."""
from __future__ import annotations

import pytest
import yaml

from schemas.document import Document
from schemas.raw import RawRecord
from testkit.authored import NGC_DIR
from testkit.realdata import REPO
from transforms.clean import clean_document
from transforms.extract.html import extract_html
from transforms.extract.options import ExtractOptions
from transforms.quality import quality_reason, thresholds_for

QUALITY = yaml.safe_load((REPO / "gap_pipeline" / "default.yaml").read_text())["quality"]


@pytest.mark.parametrize("name", sorted(p.name for p in NGC_DIR.glob("*.xml")))
def test_ngc_summaries_pass_quality_with_guideline_thresholds(name):
    raw = RawRecord.make(source="ngc", url=name, fetched_at="2024-01-01T00:00:00Z", content_type="html",
                         content=(NGC_DIR / name).read_bytes())
    [doc] = extract_html(raw, subset="guidelines", options=ExtractOptions(), rules={})
    cleaned = clean_document(doc, {})
    assert isinstance(cleaned, Document), cleaned
    assert quality_reason(cleaned.text, thresholds_for(QUALITY, "guidelines")) is None
    # the same text cut down to its title and one heading is too short to keep: the check can say no
    stub = "\n\n".join(cleaned.text.split("\n\n")[:2])
    assert quality_reason(stub, thresholds_for(QUALITY, "guidelines")) is not None
