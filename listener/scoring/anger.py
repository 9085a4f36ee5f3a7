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
from listener.scoring.anger_cues import cue_features

FloatArray = npt.NDArray[np.float32]
ANGER_FILE = "anger.safetensors"
_SHOUT = re.compile(r"[!?]{2,}|\b[^\W\d_]{4,}\b")


class AngerHead:
    """A logistic head over [CLS] features and, where it was trained with them, the text's
    surface cues (anger_cues.py): anger = sqrt(sigmoid(w.x + c.cues + b) * p_negative)."""

    def __init__(
        self, weight: FloatArray, bias: float, cue_weight: FloatArray | None = None
    ) -> None:
        self.weight = weight.astype(np.float32).reshape(-1)
        self.bias = float(bias)
        self.cue_weight = None if cue_weight is None else cue_weight.astype(np.float32).reshape(-1)

    @classmethod
    def load(cls, model_dir: Path) -> AngerHead | None:
        """The head stored in ``model_dir``, or None when the directory has none."""
        path = model_dir / ANGER_FILE
        if not path.is_file():
            return None
        from safetensors.numpy import load_file

        try:
            tensors = load_file(str(path))
            return cls(
                tensors["weight"], float(tensors["bias"].reshape(-1)[0]), tensors.get("cue_weight")
            )
        except (OSError, KeyError, ValueError) as exc:
            raise ModelError(f"{path} is unreadable: delete the directory to re-assemble") from exc

    def save(self, model_dir: Path) -> None:
        from safetensors.numpy import save_file

        tensors = {"weight": self.weight, "bias": np.array([self.bias], dtype=np.float32)}
        if self.cue_weight is not None:
            tensors["cue_weight"] = self.cue_weight
        save_file(tensors, str(model_dir / ANGER_FILE))

    def probability(self, features: FloatArray, texts: Sequence[str]) -> FloatArray:
        """The head's own angry-vs-not probability per row of ``features`` (one per text)."""
        z = features.astype(np.float32) @ self.weight + self.bias
        if self.cue_weight is not None:
            cues = cue_features(texts)
            z = z + cues[:, : len(self.cue_weight)] @ self.cue_weight
        return (1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))).astype(np.float32)

    def __call__(
        self, features: FloatArray, negative: FloatArray, texts: Sequence[str]
    ) -> FloatArray:
        combined = np.sqrt(self.probability(features, texts) * np.clip(negative, 0.0, 1.0))
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
