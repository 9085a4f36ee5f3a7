"""Int8 Linear layers whose output for a token depends on that token alone.

torch's dynamic int8 (``quantize_dynamic``) picks one activation scale for the whole input
tensor, so a text's scores moved with the other texts in its batch (and with their padding).
Here every row (token) is quantised with its own symmetric scale, ``max|x| / 127``, and the
int8 matrix product runs in oneDNN (uint8 x int8, VNNI where the CPU has it, AVX2 otherwise);
the weights are 7-bit integers with one scale per output channel. A token's result is then the same
alone or in any batch: scores are a function of the text.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

_ZERO_POINT = 128
"""Activations go to uint8 with this zero point: oneDNN's native u8 x s8 product."""
_WEIGHT_LEVELS = 63
"""Weights use 7 bits (-63..63). CPUs without VNNI multiply u8 x s8 with ``vpmaddubsw``, which
adds pairs of products into int16 and saturates past 32767; with |w| <= 63 a pair stays within
(255 * 63 * 2 = 32130), so the int32 sums are exact on every x86 CPU: the same scores on AVX2 and
on AVX-512 VNNI, and alone or in any batch."""


def cpu_features() -> str:
    """What int8 speed depends on: "AVX-512 VNNI", "AVX2 + AVX-VNNI", "AVX2 only" or "no AVX2"
    (read from /proc/cpuinfo; "unknown" elsewhere)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text(encoding="utf-8").split())
    except OSError:
        return "unknown"
    if "avx512_vnni" in flags:
        return "AVX-512 VNNI"
    if "avx2" not in flags:
        return "no AVX2"
    return "AVX2 + AVX-VNNI" if "avx_vnni" in flags else "AVX2 only"


def available() -> bool:
    """Whether this torch build has the oneDNN int8 Linear (x86 builds do)."""
    return hasattr(torch.ops, "onednn") and hasattr(torch.ops.onednn, "qlinear_pointwise")


class RowInt8Linear(torch.nn.Module):
    """A frozen ``nn.Linear`` in int8 with per-row activation and per-channel weight scales."""

    def __init__(self, linear: torch.nn.Linear) -> None:
        super().__init__()
        weight = linear.weight.detach().float()
        scale = weight.abs().amax(dim=1).clamp(min=1e-12) / _WEIGHT_LEVELS
        q = torch.round(weight / scale[:, None]).clamp(-_WEIGHT_LEVELS, _WEIGHT_LEVELS)
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.register_buffer("w_scale", scale.contiguous(), persistent=False)
        self.register_buffer(
            "w_zero", torch.zeros(self.out_features, dtype=torch.long), persistent=False
        )
        self.packed: Any = torch.ops.onednn.qlinear_prepack(q.to(torch.int8).contiguous(), None)
        self.bias: torch.Tensor = (
            linear.bias.detach().float()
            if linear.bias is not None
            else torch.zeros(self.out_features)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        rows = x.reshape(-1, self.in_features).float()
        # In-place where possible: at mention sizes these passes cost as much as the product.
        scale = torch.linalg.vector_norm(rows, float("inf"), dim=1, keepdim=True)
        scale = scale.clamp_(min=1e-12).div_(127.0)
        q = torch.round(rows / scale).add_(_ZERO_POINT).to(torch.uint8)
        out = torch.ops.onednn.qlinear_pointwise(
            q,
            1.0,
            _ZERO_POINT,
            self.packed,
            self.w_scale,
            self.w_zero,
            None,
            1.0,
            0,
            torch.float32,
            "none",
            [],
            "",
        )
        out = out.mul_(scale).add_(self.bias)
        return out.reshape(*shape[:-1], self.out_features)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 per-row"


def quantize_rows(model: torch.nn.Module, keep_float: Callable[[str], bool]) -> int:
    """Replace every ``nn.Linear`` of ``model`` by a RowInt8Linear, in place, except those
    whose qualified name ``keep_float`` accepts; returns how many were replaced."""
    targets = [
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and not keep_float(name)
    ]
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, RowInt8Linear(getattr(parent, child)))
    return len(targets)
