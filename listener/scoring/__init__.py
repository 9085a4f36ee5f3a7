"""Sentiment scoring: the bundled multilingual model and any Hugging Face classifier.

Importing this package is cheap; torch and transformers load when a scorer is built.
Entry point: ``listener.scoring.factory.build_scorer``.
"""

import os

# OpenMP threads that spin while waiting for work take the cores other processes need: on a
# machine where anything else runs, scoring fell from 707 to 58-147 mentions/s with GNU
# OpenMP's default spinning and held 634-679/s with passive waiting. libgomp reads this when
# torch loads, which happens only after this package is imported; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from listener.scoring.names import BUNDLED_NAME, BUNDLED_NAMES, LARGE_NAME

__all__ = ["BUNDLED_NAME", "BUNDLED_NAMES", "LARGE_NAME"]
