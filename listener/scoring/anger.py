"""The anger signal: how angry (not merely disappointed) the author of a text is, in [0, 1].

The bundled model carries a small logistic head on the final [CLS] hidden state, trained on our
own multilingual angry-vs-not brand mentions (scripts/model/train_anger.py). Its probability is
combined with the model's negative probability (geometric mean), so an exclamation-heavy
*positive* text is never called angry. Models without a head (any Hugging Face model) get a
cruder signal: the negative probability scaled by surface cues of shouting.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from listener.errors import ModelError

FloatArray = npt.NDArray[np.float32]
ANGER_FILE = "anger.safetensors"
_SHOUT = re.compile(r"[!?]{2,}|\b[^\W\d_]{4,}\b")


class AngerHead:
    """A logistic head over [CLS] features: anger = sqrt(sigmoid(w.x + b) * p_negative)."""

    def __init__(self, weight: FloatArray, bias: float) -> None:
        self.weight = weight.astype(np.float32).reshape(-1)
        self.bias = float(bias)

    @classmethod
    def load(cls, model_dir: Path) -> AngerHead | None:
        """The head stored in ``model_dir``, or None when the directory has none."""
        path = model_dir / ANGER_FILE
        if not path.is_file():
            return None
        from safetensors.numpy import load_file

        try:
            tensors = load_file(str(path))
            return cls(tensors["weight"], float(tensors["bias"].reshape(-1)[0]))
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"{path} is unreadable: delete the directory to re-assemble") from exc

    def save(self, model_dir: Path) -> None:
        from safetensors.numpy import save_file

        save_file(
            {"weight": self.weight, "bias": np.array([self.bias], dtype=np.float32)},
            str(model_dir / ANGER_FILE),
        )

    def probability(self, features: FloatArray) -> FloatArray:
        """The head's own angry-vs-not probability per row of ``features``."""
        z = features.astype(np.float32) @ self.weight + self.bias
        return (1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))).astype(np.float32)

    def __call__(self, features: FloatArray, negative: FloatArray) -> FloatArray:
        combined = np.sqrt(self.probability(features) * np.clip(negative, 0.0, 1.0))
        return np.clip(combined, 0.0, 1.0).astype(np.float32)


def cue_anger(texts: Sequence[str], negative: FloatArray) -> FloatArray:
    """Fallback for models without a head: negative probability, damped unless the text shouts
    (repeated !/?, words in capitals)."""
    out = np.empty(len(texts), dtype=np.float32)
    for i, text in enumerate(texts):
        shouts = sum(
            1 for m in _SHOUT.finditer(text) if m.group(0)[0] in "!?" or m.group(0).isupper()
        )
        cue = min(1.0, 0.5 + 0.25 * shouts)
        out[i] = float(np.clip(negative[i], 0.0, 1.0)) ** 1.5 * cue
    return out
