"""Sentiment scoring: the bundled multilingual model and any Hugging Face classifier.

Importing this package is cheap; torch and transformers load when a scorer is built.
Entry point: ``listener.scoring.factory.build_scorer``.
"""

from listener.scoring.names import BUNDLED_NAME, BUNDLED_NAMES, LARGE_NAME

__all__ = ["BUNDLED_NAME", "BUNDLED_NAMES", "LARGE_NAME"]
