"""Map a model's raw output labels onto listener's negative / neutral / positive."""

from __future__ import annotations

from collections.abc import Mapping

from listener.domain import LABELS
from listener.errors import ModelError

_ALIASES = {
    "negative": "negative",
    "neg": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "positive": "positive",
    "pos": "positive",
}


def resolve_label_map(
    id2label: Mapping[int, str], overrides: Mapping[str, str] | None = None
) -> list[str]:
    """The canonical label of each model output index, in index order.

    ``overrides`` (the ``[model] labels`` table: raw label -> negative/neutral/positive) wins;
    otherwise raw labels are matched case-insensitively (``Negative``, ``neg``, ...), and a
    3-output model with Hugging Face's default names ``LABEL_0..2`` is read as
    negative/neutral/positive. Raises ModelError naming the labels it could not place.
    """
    overrides = {k.casefold(): v for k, v in (overrides or {}).items()}
    for raw, target in overrides.items():
        if target not in LABELS:
            raise ModelError(
                f"[model] labels maps {raw!r} to {target!r}; expected one of {', '.join(LABELS)}"
            )
    n = len(id2label)
    raw_labels = [str(id2label[i]) for i in range(n)]
    default_names = [f"label_{i}" for i in range(n)]
    out: list[str] = []
    unknown: list[str] = []
    for i, raw in enumerate(raw_labels):
        key = raw.casefold()
        if key in overrides:
            out.append(overrides[key])
        elif key in _ALIASES:
            out.append(_ALIASES[key])
        elif n == len(LABELS) and key == default_names[i]:
            out.append(LABELS[i])
        else:
            unknown.append(raw)
    if unknown:
        raise ModelError(
            f"cannot tell which sentiment the model's labels {unknown} mean: add them to the "
            '[model] labels table, e.g. labels = { "' + unknown[0] + '" = "negative" }'
        )
    if "negative" not in out or "positive" not in out:
        raise ModelError(
            f"the model's labels {raw_labels} map to {out}: a sentiment model needs at least a "
            "negative and a positive output ([model] labels)"
        )
    return out
