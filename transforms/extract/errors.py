"""Extraction failures: the record goes to quarantine with this message."""


class ExtractError(ValueError):
    """A raw record cannot be turned into documents (malformed, encrypted, empty, too large...)."""
