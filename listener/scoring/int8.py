"""Int8 Linear layers whose output for a token depends on that token alone.

torch's dynamic int8 (``quantize_dynamic``) picks one activation scale for the whole input
tensor, so a text's scores moved with the other texts in its batch (and with their padding).
Here every row (token) is quantised with its own symmetric scale, ``max|x| / 127``, and the
int8 matrix product runs in oneDNN (uint8 x int8, VNNI where the CPU has it, AVX2 otherwise);
the weights are 7-bit integers with one scale per output channel. Layers whose inputs the
model's artefact calibrated (``int8.input_scales`` in artefact.json, written by
scripts/model/calibrate_int8.py) use one fixed activation scale instead. A token's result is
then the same alone or in any batch: scores are a function of the text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
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
    """A frozen ``nn.Linear`` in int8 with per-channel weight scales.

    Activations are quantised per row (token) with ``max|x| / 127``, or, where the model's
    artefact calibrated one (``input_scale``), with one fixed scale for every token: both make
    a token's result independent of its batch. The fixed scale also lets oneDNN add the bias
    and dequantise inside the product, which saves three passes over the activations.
    """

    def __init__(self, linear: torch.nn.Linear, input_scale: float | None = None) -> None:
        super().__init__()
        weight = linear.weight.detach().float()
        scale = weight.abs().amax(dim=1).clamp(min=1e-12) / _WEIGHT_LEVELS
        q = torch.round(weight / scale[:, None]).clamp(-_WEIGHT_LEVELS, _WEIGHT_LEVELS)
        self.in_features = linear.in_features
        self.out_features = linear.out_features
        self.input_scale = input_scale
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
        if self.input_scale is not None:
            q = _to_uint8(
                rows.mul(1.0 / self.input_scale).add_(_ZERO_POINT + 0.5).clamp_(0.0, 255.0)
            )
            out = self._product(q, self.input_scale, self.bias)
        else:
            # Each pass over the activations costs about as much as the int8 product at mention
            # sizes, so only fast kernels are used: amax/amin (``vector_norm(inf)`` took 30x
            # longer) and one broadcast multiply.
            peak = torch.maximum(
                rows.amax(dim=1, keepdim=True), rows.amin(dim=1, keepdim=True).neg()
            )
            scale = peak.clamp_(min=1e-12).div_(127.0)
            q = _to_uint8(rows.mul(scale.reciprocal()).add_(_ZERO_POINT + 0.5))
            out = torch.addcmul(self.bias, self._product(q, 1.0, None), scale)
        return out.reshape(*shape[:-1], self.out_features)

    def _product(self, q: torch.Tensor, x_scale: float, bias: torch.Tensor | None) -> torch.Tensor:
        return torch.ops.onednn.qlinear_pointwise(
            q,
            x_scale,
            _ZERO_POINT,
            self.packed,
            self.w_scale,
            self.w_zero,
            bias,
            1.0,
            0,
            torch.float32,
            "none",
            [],
            "",
        )

    def extra_repr(self) -> str:
        rows = "fixed input scale" if self.input_scale is not None else "per-row input scales"
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 {rows}"


def _to_uint8(shifted: torch.Tensor) -> torch.Tensor:
    """``shifted`` (values in [0, 255.5]) truncated to uint8, which rounds ``x / scale`` half up.
    numpy's cast is vectorised; torch's float -> uint8 cast took 7x longer."""
    return torch.from_numpy(shifted.numpy().astype(np.uint8))


def quantize_rows(
    model: torch.nn.Module,
    keep_float: Callable[[str], bool],
    input_scales: Mapping[str, float] | None = None,
) -> int:
    """Replace every ``nn.Linear`` of ``model`` by a RowInt8Linear, in place, except those
    whose qualified name ``keep_float`` accepts; a layer named in ``input_scales`` gets that
    fixed activation scale. Returns how many were replaced."""
    scales = input_scales or {}
    targets = [
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and not keep_float(name)
    ]
    for name in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, RowInt8Linear(getattr(parent, child), scales.get(name)))
    return len(targets)
