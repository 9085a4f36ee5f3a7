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
from typing import Any

from listener.scoring.spm_tokenizer import SPM_META_FILE, SPM_MODEL_FILE, SentencePieceEncoder

_HUGE = 10**6


class TokenEncoder:
    """Encodes texts to token ids (special tokens added, truncated to ``max_length``)."""

    def __init__(
        self,
        backend: Any,
        *,
        pad_id: int,
        model_max_length: int | None,
        raw: bool,
        spm: bool = False,
    ):
        self._backend = backend
        self.pad_id = pad_id
        self.model_max_length = model_max_length
        self._raw = raw
        self._spm = spm

    def encode(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        if self._spm:
            ids: list[list[int]] = self._backend.encode(texts, max_length)
            return ids
        if self._raw:
            self._backend.enable_truncation(max_length)
            return [e.ids for e in self._backend.encode_batch(list(texts))]
        out = self._backend(list(texts), truncation=True, max_length=max_length)
        return [list(ids) for ids in out["input_ids"]]


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
        settings: dict[str, Any] = {}
        if (path / "tokenizer_config.json").is_file():
            settings = json.loads((path / "tokenizer_config.json").read_text(encoding="utf-8"))
        limit = settings.get("model_max_length")
        return TokenEncoder(
            sp,
            pad_id=sp.pad_id,
            model_max_length=int(limit)
            if isinstance(limit, int | float) and limit < _HUGE
            else None,
            raw=False,
            spm=True,
        )
    if (path / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(path / "tokenizer.json"))
        config: dict[str, Any] = {}
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            if (path / name).is_file():
                config.update(json.loads((path / name).read_text(encoding="utf-8")))
        pad = _token_text(config.get("pad_token"))
        pad_id = tok.token_to_id(pad) if pad else None
        limit = config.get("model_max_length")
        return TokenEncoder(
            tok,
            pad_id=pad_id if pad_id is not None else 0,
            model_max_length=int(limit)
            if isinstance(limit, int | float) and limit < _HUGE
            else None,
            raw=True,
        )
    from transformers import AutoTokenizer

    # fix_mistral_regex=False: transformers 4.57.3+ warns about Mistral regexes for local
    # directories it saved itself; a sentiment classifier's tokenizer has no such regex.
    tok = AutoTokenizer.from_pretrained(str(source), fix_mistral_regex=False)
    limit = getattr(tok, "model_max_length", None)
    return TokenEncoder(
        tok,
        pad_id=tok.pad_token_id or 0,
        model_max_length=int(limit) if limit and limit < _HUGE else None,
        raw=False,
    )
