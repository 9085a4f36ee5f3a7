"""Text -> token ids for the scorer, with as little memory as the model's tokenizer allows.

The bundled model's directory has ``spm.model``: a sentencepiece copy of its tokenizer with the
same ids (see :mod:`listener.scoring.spm_tokenizer`), ~300 MB smaller than ``tokenizers``' trie.
Otherwise a directory with a ``tokenizer.json`` is read straight into a ``tokenizers.Tokenizer``:
the transformers wrapper around a 250k-piece unigram vocabulary costs ~140 MB more for nothing the
scorer uses. Anything else (hub ids, slow sentencepiece-only tokenizers) goes through AutoTokenizer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from listener.scoring.spm_tokenizer import SPM_META_FILE, SPM_MODEL_FILE, SentencePieceEncoder

_HUGE = 10**6

Backend = Literal["sentencepiece", "tokenizers", "transformers"]


class TokenEncoder:
    """Encodes texts to token ids (special tokens added, truncated to ``max_length``)."""

    def __init__(
        self, backend: Any, *, kind: Backend, pad_id: int, model_max_length: int | None
    ) -> None:
        self._backend = backend
        self._kind = kind
        self.pad_id = pad_id
        self.model_max_length = model_max_length

    def encode(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        if self._kind == "sentencepiece":
            ids: list[list[int]] = self._backend.encode(texts, max_length)
            return ids
        if self._kind == "tokenizers":
            self._backend.enable_truncation(max_length)
            return [e.ids for e in self._backend.encode_batch(list(texts))]
        out = self._backend(list(texts), truncation=True, max_length=max_length)
        return [list(ids) for ids in out["input_ids"]]


def _saved_settings(path: Path) -> dict[str, Any]:
    """special_tokens_map.json and tokenizer_config.json of a model directory, merged."""
    config: dict[str, Any] = {}
    for name in ("special_tokens_map.json", "tokenizer_config.json"):
        if (path / name).is_file():
            config.update(json.loads((path / name).read_text(encoding="utf-8")))
    return config


def _length_limit(value: Any) -> int | None:
    """A tokenizer's model_max_length, or None for a missing or "unlimited" (huge) one."""
    return int(value) if isinstance(value, int | float) and 0 < value < _HUGE else None


def _token_text(value: Any) -> str | None:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else None


def load_encoder(source: str | Path) -> TokenEncoder:
    """The encoder of a local model directory or hub id; raises OSError/ValueError when absent."""
    path = Path(source)
    if (path / SPM_MODEL_FILE).is_file() and (path / SPM_META_FILE).is_file():
        # The bundled model: the same ids as its tokenizer.json for ~300 MB less memory.
        sp = SentencePieceEncoder(path)
        return TokenEncoder(
            sp,
            kind="sentencepiece",
            pad_id=sp.pad_id,
            model_max_length=_length_limit(_saved_settings(path).get("model_max_length")),
        )
    if (path / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        config = _saved_settings(path)
        pad = _token_text(config.get("pad_token"))
        pad_id = tok.token_to_id(pad) if pad else None
        return TokenEncoder(
            tok,
            kind="tokenizers",
            pad_id=pad_id if pad_id is not None else 0,
            model_max_length=_length_limit(config.get("model_max_length")),
        )
    from transformers import AutoTokenizer

    # fix_mistral_regex=False: transformers 4.57.3+ warns about Mistral regexes for local
    # directories it saved itself; a sentiment classifier's tokenizer has no such regex.
    tok = AutoTokenizer.from_pretrained(str(source), fix_mistral_regex=False)
    return TokenEncoder(
        tok,
        kind="transformers",
        pad_id=tok.pad_token_id or 0,
        model_max_length=_length_limit(getattr(tok, "model_max_length", None)),
    )
