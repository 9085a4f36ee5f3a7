"""The Scorer over any Hugging Face sequence-classification model (torch + transformers, lazy).

Throughput on a CPU comes from: tokenising once without padding, sorting by length so each
batch pads to its own longest text, ``torch.inference_mode``, a sensible thread count, and
(optionally) int8 for the Linear layers with per-row scales (int8.py), so a text scores the
same whatever else is in its batch. Batches also hold a bounded number
of tokens, so long texts go in smaller batches and activation memory stays bounded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from listener.domain import LABELS, Sentiment
from listener.errors import ModelError
from listener.scoring.anger import AngerHead, cue_anger
from listener.scoring.assemble import int8_input_scales
from listener.scoring.encoder import load_encoder
from listener.scoring.labels import resolve_label_map
from listener.scoring.langid import LanguageGuesser
from listener.scoring.network import load_network

log = logging.getLogger(__name__)

HEAD_PREFIXES = ("classifier", "pre_classifier", "score")
CHARS_PER_TOKEN_CAP = 16
"""Texts are cut to max_length * this many characters before tokenising (bounded work)."""
WIDTH_STEP = 8
"""Batch widths are padded up to a multiple of this: a few tokens of padding cost little, while
every distinct input shape costs oneDNN a cached primitive (memory grows with their number)."""
TOKENS_PER_TEXT = 64
"""A batch holds at most ``batch_size * TOKENS_PER_TEXT`` padded tokens: mention-sized texts go
``batch_size`` at a time, long ones in smaller batches, so activation memory stays bounded."""


def _round_up(n: int, step: int) -> int:
    return -(-n // step) * step


def token_batches(lengths: Sequence[int], batch_size: int, budget: int) -> list[list[int]]:
    """Indices sorted by length, grouped into batches of texts that pad to the same width (a
    multiple of WIDTH_STEP), at most ``batch_size`` texts and ``budget`` padded tokens each (a
    longer text goes alone). A text is padded exactly as it would be alone, so its score does
    not depend on its batch-mates (padding changes the order of floating-point sums)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    current_width = 0
    for i in order:
        width = _round_up(lengths[i], WIDTH_STEP)
        if current and (
            width != current_width
            or len(current) >= batch_size
            or (len(current) + 1) * width > budget
        ):
            batches.append(current)
            current = []
        current.append(i)
        current_width = width
    if current:
        batches.append(current)
    return batches


def clean_text(text: object) -> str:
    """Any input as valid UTF-8 text: lone surrogates and other unencodable code points replaced."""
    s = text if isinstance(text, str) else str(text)
    return s.encode("utf-8", "replace").decode("utf-8")


def auto_threads() -> int:
    """Cores this process may run on (the affinity mask, not the machine's total)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def quantize_int8(model: Any, input_scales: dict[str, float] | None = None) -> bool:
    """Int8 for the encoder's Linear layers, in place (see int8.py: per-row activation scales,
    so a text scores the same alone or in any batch); the small classification head and the
    pooler stay float. Returns False, leaving the model in fp32, where this torch build has
    no oneDNN int8 (non-x86 CPUs)."""
    from listener.scoring import int8

    if not int8.available():
        log.warning("this torch build has no oneDNN int8 kernels: scoring in fp32")
        return False
    int8.quantize_rows(
        model,
        lambda name: name.startswith(HEAD_PREFIXES) or ".pooler." in f".{name}.",
        input_scales,
    )
    return True


class TransformerScorer:
    """Scores texts with a sequence-classification model loaded from ``source``.

    ``source`` is a local model directory or a Hugging Face model id; ``model_id`` is what each
    score row records (None: ``source@<hub commit>``). ``label_map`` overrides the model's own
    label names (see labels.py).
    """

    def __init__(
        self,
        *,
        source: str | Path,
        model_id: str | None,
        label_map: dict[str, str] | None = None,
        batch_size: int = 32,
        max_length: int = 128,
        quantize: bool = True,
        threads: int = 0,
    ) -> None:
        self.batch_size = max(1, batch_size)
        self.quantized = quantize
        self.threads = threads if threads > 0 else auto_threads()
        import torch

        torch.set_num_threads(self.threads)
        try:
            self.encoder = load_encoder(source)
            network = load_network(source)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelError(
                f"cannot load sentiment model {source!s}: {exc.__class__.__name__}. Set [model] "
                "name to the bundled model, a local directory holding a Hugging Face "
                "sequence-classification model, or a model id (downloaded once, needs internet; "
                "or fetch it with `huggingface-cli download ID --local-dir DIR`)"
            ) from exc
        limits = [max_length, network.max_positions]
        if self.encoder.model_max_length:
            limits.append(self.encoder.model_max_length)
        self.max_length = max(2, min(limits))
        self._model_id = model_id or f"{source}@{network.commit[:12]}"
        if quantize:
            scales = int8_input_scales(Path(source)) if network.plain else {}
            self.quantized = quantize_int8(network.module, scales)
        self.network = network
        self.labels = resolve_label_map(network.id2label, label_map)
        self.anger_head = AngerHead.load(Path(source)) if Path(source).is_dir() else None
        self.languages = LanguageGuesser()
        self._index = {
            label: [i for i, x in enumerate(self.labels) if x == label] for label in LABELS
        }

    @property
    def model_id(self) -> str:
        return self._model_id

    def raw_outputs(
        self, texts: list[str], *, features: bool
    ) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
        """Softmax over the model's own outputs and (if asked) the final [CLS] hidden states,
        one row per text in input order. ``texts`` must be clean (see ``clean_text``)."""
        import torch

        cap = self.max_length * CHARS_PER_TOKEN_CAP
        enc = self.encoder.encode([t[:cap] for t in texts], self.max_length)
        batches = token_batches(
            [len(e) for e in enc], self.batch_size, self.batch_size * TOKENS_PER_TEXT
        )
        n_out = len(self.labels)
        probs = np.zeros((len(texts), n_out), dtype=np.float32)
        want_features = features
        feats = np.zeros((len(texts), self.network.hidden_size), dtype=np.float32)
        pad = self.encoder.pad_id
        with torch.inference_mode():
            for idx in batches:
                longest = max(len(enc[i]) for i in idx)
                width = min(_round_up(longest, WIDTH_STEP), max(longest, self.max_length))
                # A batch of one runs as two copies: torch takes other kernel paths for a batch
                # dimension of 1, whose last-bit differences int8 rounding can amplify (a text
                # alone moved by up to 0.08 in p). Two and more rows give identical results.
                rows = idx if len(idx) > 1 else idx * 2
                ids = torch.full((len(rows), width), pad, dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for row, i in enumerate(rows):
                    ids[row, : len(enc[i])] = torch.tensor(enc[i])
                    mask[row, : len(enc[i])] = 1
                logits, cls = self.network.run(ids, mask, want_features)
                n = len(idx)
                probs[idx] = torch.softmax(logits[:n].float(), dim=-1).numpy()
                if cls is not None:
                    feats[idx] = cls[:n].float().numpy()
        return probs, (feats if want_features else None)

    def three_class(self, raw: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
        """Model outputs folded onto (negative, neutral, positive), rows summing to 1."""
        three = np.stack(
            [raw[:, self._index[label]].sum(axis=1) for label in LABELS], axis=1
        ).astype(np.float64)
        return three / np.clip(three.sum(axis=1, keepdims=True), 1e-12, None)

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        """One Sentiment per text, in input order (see ports.Scorer)."""
        clean = [clean_text(t) for t in texts]
        if not clean:
            return []
        try:
            raw, feats = self.raw_outputs(clean, features=self.anger_head is not None)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"sentiment model {self._model_id} failed: {exc}") from exc
        three = self.three_class(raw)
        negative = three[:, 0]
        if self.anger_head is not None and feats is not None:
            anger = self.anger_head(feats, negative, clean)
        else:
            anger = cue_anger(clean, negative)
        out: list[Sentiment] = []
        for i, text in enumerate(clean):
            p: dict[str, float] = {lab: float(three[i, j]) for j, lab in enumerate(LABELS)}
            out.append(
                Sentiment(
                    label=LABELS[int(np.argmax(three[i]))],
                    probabilities=p,
                    anger=float(np.clip(anger[i], 0.0, 1.0)),
                    lang=self.languages.guess(text),
                )
            )
        return out
