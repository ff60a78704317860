"""Vectorised signatures equal datasketch 2.0's; shingles keep numbers; the default S-curve."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from datasketch import MinHash

from transforms.dedup.minhash import (MinHashParams, band_keys, candidate_probability, dedup_manifest_info,
                                      estimated_jaccard, jaccard, sample_jaccard, shingles, signature, signatures,
                                      signatures_and_samples)


def _datasketch(grams, params):
    m = MinHash(num_perm=params.num_perm, seed=params.hash_seed)
    m.update_batch(grams)
    return m


@pytest.mark.parametrize("num_perm,seed", [(128, 1), (64, 7), (256, 42)])
def test_signatures_equal_datasketch_on_real_text(realdata, num_perm, seed):
    with zipfile.ZipFile(realdata / "3-guidelines/cdc_harvest/mmsu_art_en_txt_json.zip") as z:
        texts = list(json.loads(z.read(z.namelist()[0])).values())[:12]
    params = MinHashParams(num_perm=num_perm, bands=num_perm // 8, rows=8, hash_seed=seed)
    # long documents exercise the blocked path, short ones the single-block reduceat path
    grams = [shingles(t) for t in texts] + [shingles(t[:300]) for t in texts] + [[]]
    batch = signatures(grams, params)
    for g, row in zip(grams, batch):
        expected = _datasketch(g, params).hashvalues
        assert row.dtype == np.uint32
        assert np.array_equal(row, expected)
        assert np.array_equal(signature(g, params), expected)


def test_estimated_jaccard_matches_datasketch():
    params = MinHashParams()
    a = shingles("the dose was 5 mg twice daily for adults with renal impairment and hepatic disease " * 3)
    b = shingles("the dose was 5 mg twice daily for children with renal impairment and cardiac disease " * 3)
    ma, mb = _datasketch(a, params), _datasketch(b, params)
    sa, sb = signature(a, params), signature(b, params)
    assert estimated_jaccard(sa, sb) == ma.jaccard(mb)
    assert estimated_jaccard(sa.tobytes(), sb.tobytes()) == ma.jaccard(mb)


def test_shingles_keep_numbers_and_decimals():
    five = set(shingles("give 5 mg of morphine every 4 hours as needed"))
    fifty = set(shingles("give 50 mg of morphine every 4 hours as needed"))
    assert five != fifty and jaccard(five, fifty) == 0.5  # 2 of the 6 shingles hold the dose
    assert b"give 5 mg of morphine" in five and b"give 50 mg of morphine" in fifty
    assert b"give 2.5 mg of morphine" in shingles("Give 2.5 mg of morphine every hour")
    assert shingles("Two words") == [b"two words"]
    assert shingles("  ... ") == []


def test_default_bands_rows_meet_the_recall_target():
    params = MinHashParams()  # 16 bands x 8 rows, as in default.yaml
    assert candidate_probability(0.8, params.bands, params.rows) >= 0.9
    assert candidate_probability(0.5, params.bands, params.rows) < 0.1  # few useless candidates
    info = dedup_manifest_info(params)
    assert info["library"] == "datasketch" and info["library_version"] == "2.0.0"
    assert info["scheme"] == "affine32" and info["recall_at_threshold"] >= 0.9


def test_band_keys_differ_only_where_bands_differ():
    params = MinHashParams()
    sig = signature(shingles("a b c d e f g h i j k l m n o p"), params)
    other = sig.copy()
    other[params.rows * 3] ^= 1  # change one value of band 3
    keys, other_keys = band_keys(sig, params), band_keys(other, params)
    assert len(keys) == params.bands
    assert [k == o for k, o in zip(keys, other_keys)] == [i != 3 for i in range(params.bands)]


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="exceeds num_perm"):
        MinHashParams(num_perm=64, bands=16, rows=8)
    with pytest.raises(ValueError, match="threshold"):
        MinHashParams(threshold=0.0)


def _cdc_texts(realdata, n):
    with zipfile.ZipFile(realdata / "3-guidelines/cdc_harvest/mmsu_art_en_txt_json.zip") as z:
        return list(json.loads(z.read(z.namelist()[0])).values())[:n]


def test_carried_shingle_hashes_give_exact_jaccard_for_short_documents(realdata):
    params = MinHashParams(verify_hashes=2048)
    words = _cdc_texts(realdata, 1)[0].split()[100:700]
    base = " ".join(words)
    variants = [" ".join(words[:k] + ["changed"] + words[k + 1:]) for k in range(0, 600, 37)] + [base[:900], "x y"]
    grams = [shingles(base)] + [shingles(v) for v in variants]
    sigs, samples = signatures_and_samples(grams, params)
    assert np.array_equal(sigs, signatures(grams, params))  # same signatures as without samples
    for g, sample in zip(grams[1:], samples[1:]):
        assert len(sample) == len(set(g)) < 2048
        assert sample_jaccard(samples[0], sample.tobytes(), 2048) == jaccard(grams[0], g)


def test_bottom_k_estimate_for_long_documents_is_close(realdata):
    params = MinHashParams(verify_hashes=512)
    text = " ".join(" ".join(t.split()[:3000]) for t in _cdc_texts(realdata, 3))
    words = text.split()
    edited = " ".join(w if i % 23 else "changed" for i, w in enumerate(words))  # true Jaccard ~0.8
    a, b = shingles(text), shingles(edited)
    truth = jaccard(a, b)
    _, (sa, sb) = signatures_and_samples([a, b], params)
    assert len(a) > 4 * 512 and len(sa) == len(sb) == 512
    assert 0.6 < truth < 0.9 and abs(sample_jaccard(sa, sb, 512) - truth) < 0.05  # ~3 sigma at k=512
    with pytest.raises(ValueError, match="verify_hashes"):
        MinHashParams(verify_hashes=-1)
