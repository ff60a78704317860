"""Exact and MinHash-LSH near dedup: the plain decisions and near dedup's Beam phases (exact.py,
near.py, minhash.py); the build runs them on key records through `transforms.keys.dedup_decisions`."""
from transforms.dedup.exact import choose_survivors, normalize_text, text_hash
from transforms.dedup.minhash import MinHashParams, dedup_manifest_info
from transforms.dedup.near import near_duplicates

__all__ = ["MinHashParams", "choose_survivors", "dedup_manifest_info", "near_duplicates", "normalize_text", "text_hash"]
