"""MinHash signatures, vectorised with numpy, equal value for value to datasketch 2.0's `MinHash`.

datasketch 2.0 (scheme "affine32", its default) computes, for each shingle s and permutation k:
    h = sha1(s)[:4] read little-endian;  h = fmix32(h);  phv_k = a_k * h + b_k  (mod 2**32)
and keeps the minimum per k. Its per-document cost is a Python loop of SHA1 calls plus the object
set-up (a `RandomState` per MinHash). Here the permutations are built once, the SHA1 loop is a
tight comprehension, and a whole batch of documents is reduced with one `np.minimum.reduceat`, so
the result is the same array datasketch would hold in `MinHash(...).hashvalues` (tests check it).

Shingles are word n-grams over a lower-cased token stream that keeps numbers (and decimals) as
tokens: "5 mg" and "50 mg" must not be the same shingle in a corpus of drug doses.
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
from typing import Any, Iterable, Sequence

import numpy as np

SCHEME = "affine32"
HASH_FUNCTION = "sha1_hash32"

# Numbers keep their decimal part ("2.5" is one token); other tokens are runs of letters/digits.
_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+", re.UNICODE)
_MAX_UINT32 = np.uint32(0xFFFFFFFF)
_CHUNK_ROWS = 8192  # shingles per numpy block: bounds the (shingles x num_perm) temporary to ~4 MB


@dataclasses.dataclass(frozen=True)
class MinHashParams:
    """Settings of near-dedup (from config section `dedup`: `DedupSettings.minhash` in transforms/settings.py)."""
    num_perm: int = 128
    bands: int = 16
    rows: int = 8
    threshold: float = 0.8
    shingle_size: int = 5
    hash_seed: int = 1
    # Shingle hashes carried per document to verify a candidate pair: the exact shingle Jaccard when
    # both documents have at most this many shingles, else a bottom-k estimate (noise ~sqrt(J(1-J)/k));
    # 0 verifies with the signatures' estimate alone (noise ~0.035 at 128 permutations).
    verify_hashes: int = 2048

    def __post_init__(self) -> None:
        if self.num_perm < 1 or self.bands < 1 or self.rows < 1 or self.shingle_size < 1:
            raise ValueError(f"MinHash parameters must be positive: {self}")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows ({self.bands}x{self.rows}) exceeds num_perm ({self.num_perm})")
        if self.verify_hashes < 0:
            raise ValueError(f"verify_hashes must be >= 0, got {self.verify_hashes}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")


def tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text.lower())


def shingles(text: str, size: int = 5) -> list[bytes]:
    """Distinct word `size`-grams of `text` as UTF-8 bytes, in first-seen order.

    A text shorter than `size` words gives one shingle of all its words; an empty text gives none
    (such a document cannot be compared and is never a near-duplicate).
    """
    words = tokens(text)
    if not words:
        return []
    if len(words) <= size:
        return [" ".join(words).encode("utf-8")]
    grams = (" ".join(words[i:i + size]) for i in range(len(words) - size + 1))
    return [g.encode("utf-8") for g in dict.fromkeys(grams)]


@functools.lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) affine permutation parameters datasketch 2.0 draws for (num_perm, seed)."""
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def _fmix32(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finalizer (datasketch pre-mixes every input hash with it)."""
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _sha1_32(items: Sequence[bytes]) -> np.ndarray:
    digests = b"".join([hashlib.sha1(s).digest()[:4] for s in items])
    return np.frombuffer(digests, dtype="<u4").astype(np.uint32)


def _min_permuted(hv: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.full(a.shape[0], _MAX_UINT32, dtype=np.uint32)
    for start in range(0, hv.shape[0], _CHUNK_ROWS):
        block = hv[start:start + _CHUNK_ROWS, None] * a + b  # wraps mod 2**32, as datasketch does
        np.minimum(out, block.min(axis=0), out=out)
    return out


def signature(shingle_set: Sequence[bytes], params: MinHashParams) -> np.ndarray:
    """uint32[num_perm]: equal to datasketch `MinHash(num_perm, seed).update_batch(...)` hashvalues."""
    a, b = permutations(params.num_perm, params.hash_seed)
    if not shingle_set:
        return np.full(params.num_perm, _MAX_UINT32, dtype=np.uint32)
    with np.errstate(over="ignore"):
        return _min_permuted(_fmix32(_sha1_32(shingle_set)), a, b)


def signatures(shingle_sets: Sequence[Sequence[bytes]], params: MinHashParams) -> np.ndarray:
    """uint32[len(shingle_sets), num_perm] for a batch of documents at once (one SHA1 pass and
    one numpy reduction per block of shingles, instead of per document)."""
    return signatures_and_samples(shingle_sets, params, sample_size=0)[0]


def bottom_k(hashes: np.ndarray, k: int) -> np.ndarray:
    """The k smallest distinct values of `hashes`, sorted (all of them when there are fewer)."""
    if hashes.shape[0] > 4 * k:  # a long document: select before sorting
        hashes = np.partition(hashes, 4 * k - 1)[:4 * k]
    return np.unique(hashes)[:k]


def signatures_and_samples(shingle_sets: Sequence[Sequence[bytes]], params: MinHashParams,
                           sample_size: int | None = None) -> tuple[np.ndarray, list[np.ndarray]]:
    """`signatures`, plus each document's `bottom_k` of its shingles' 32-bit SHA1 hashes (the hashes
    the signatures are made from, so no second hashing pass) for verifying candidate pairs."""
    k = params.verify_hashes if sample_size is None else sample_size
    a, b = permutations(params.num_perm, params.hash_seed)
    out = np.full((len(shingle_sets), params.num_perm), _MAX_UINT32, dtype=np.uint32)
    samples = [np.empty(0, dtype=np.uint32) for _ in shingle_sets]
    nonempty = [i for i, s in enumerate(shingle_sets) if s]
    if not nonempty:
        return out, samples
    flat: list[bytes] = []
    starts = []
    for i in nonempty:
        starts.append(len(flat))
        flat.extend(shingle_sets[i])
    bounds = starts + [len(flat)]
    with np.errstate(over="ignore"):
        raw = _sha1_32(flat)
        hv = _fmix32(raw)
        if hv.shape[0] <= _CHUNK_ROWS:  # one (shingles x num_perm) block for the whole batch
            phv = hv[:, None] * a + b
            out[nonempty] = np.minimum.reduceat(phv, np.asarray(starts), axis=0)
        else:  # a long batch: per document, in bounded blocks
            for row, i in enumerate(nonempty):
                out[i] = _min_permuted(hv[bounds[row]:bounds[row + 1]], a, b)
    if k:
        for row, i in enumerate(nonempty):
            samples[i] = bottom_k(raw[bounds[row]:bounds[row + 1]], k)
    return out, samples


def sample_jaccard(sample_a: np.ndarray | bytes, sample_b: np.ndarray | bytes, k: int) -> float:
    """Jaccard from two `bottom_k` samples: exact when both hold all their document's shingles
    (fewer than k), else the bottom-k estimate over the k smallest hashes of their union."""
    a = np.frombuffer(sample_a, dtype="<u4") if isinstance(sample_a, bytes) else sample_a
    b = np.frombuffer(sample_b, dtype="<u4") if isinstance(sample_b, bytes) else sample_b
    if a.shape[0] < k and b.shape[0] < k:  # whole sets (up to 32-bit hash collisions)
        union = np.union1d(a, b).shape[0]
        return np.intersect1d(a, b, assume_unique=True).shape[0] / union if union else 1.0
    union = np.union1d(a, b)[:k]
    both = np.intersect1d(a, b, assume_unique=True)
    return float(np.count_nonzero(np.isin(union, both, assume_unique=True))) / union.shape[0]


def text_signature(text: str, params: MinHashParams) -> np.ndarray | None:
    """Signature of a text's shingles, or None when it has no tokens at all."""
    grams = shingles(text, params.shingle_size)
    return signature(grams, params) if grams else None


def band_keys(sig: np.ndarray, params: MinHashParams) -> list[tuple[int, bytes]]:
    """(band index, 8-byte digest of the band's rows) for each band: the LSH bucket keys."""
    raw = np.ascontiguousarray(sig[: params.bands * params.rows], dtype="<u4").tobytes()
    step = params.rows * 4
    return [(band, hashlib.blake2b(raw[band * step:(band + 1) * step], digest_size=8).digest())
            for band in range(params.bands)]


def estimated_jaccard(sig_a: np.ndarray | bytes, sig_b: np.ndarray | bytes) -> float:
    """Fraction of equal MinHash values (datasketch `MinHash.jaccard`)."""
    a = np.frombuffer(sig_a, dtype="<u4") if isinstance(sig_a, bytes) else sig_a
    b = np.frombuffer(sig_b, dtype="<u4") if isinstance(sig_b, bytes) else sig_b
    if a.shape != b.shape:
        raise ValueError(f"signatures differ in length: {a.shape} vs {b.shape}")
    return float(np.count_nonzero(a == b)) / float(a.shape[0])


def jaccard(a: Iterable[bytes], b: Iterable[bytes]) -> float:
    """Exact Jaccard similarity of two shingle sets (ground truth for evaluations)."""
    sa, sb = set(a), set(b)
    if not sa and not sb:
        return 1.0
    return len(sa & sb) / len(sa | sb)


def candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """LSH S-curve: chance that two documents of Jaccard `similarity` share at least one bucket."""
    return 1.0 - (1.0 - similarity ** rows) ** bands


def dedup_manifest_info(params: MinHashParams) -> dict[str, Any]:
    """What the manifest records so that a near-dedup run can be reproduced and compared."""
    import datasketch  # the signatures are defined as datasketch's; record which one

    return {
        "library": "datasketch",
        "library_version": getattr(datasketch, "__version__", "unknown"),
        "scheme": SCHEME,
        "hash_function": HASH_FUNCTION,
        "num_perm": params.num_perm,
        "seed": params.hash_seed,
        "bands": params.bands,
        "rows": params.rows,
        "threshold": params.threshold,
        "shingles": f"word {params.shingle_size}-grams, lower-cased, numbers kept",
        "recall_at_threshold": round(candidate_probability(params.threshold, params.bands, params.rows), 4),
        "verification": (f"shingle Jaccard from up to {params.verify_hashes} smallest 32-bit shingle hashes "
                         "(exact below that many shingles)") if params.verify_hashes else "estimated Jaccard of signatures",
    }
