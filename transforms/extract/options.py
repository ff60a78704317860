"""Extraction settings (config section `extract`): declared with the other stage sections in
transforms/settings.py, re-exported here where the extractors have always imported them."""
from transforms.settings import ExtractOptions

__all__ = ["ExtractOptions"]
