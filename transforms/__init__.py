"""Pipeline stages: one module per stage, pure functions plus a thin beam.PTransform each.

Transforms import `schemas` only (never `gap_pipeline` or `scrapers`): settings come in as arguments.
"""
