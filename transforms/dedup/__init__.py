"""Exact and MinHash-LSH near dedup (see exact.py, near.py, minhash.py)."""
from transforms.dedup.exact import ExactDedup, normalize_text, text_hash
from transforms.dedup.minhash import MinHashParams, dedup_manifest_info
from transforms.dedup.near import NearDedup

__all__ = ["ExactDedup", "NearDedup", "MinHashParams", "dedup_manifest_info", "normalize_text", "text_hash"]
