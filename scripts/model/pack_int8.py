"""Store an artefact's large weight matrices as int8 (one fp16 scale per row): half the size.

    .venv/bin/python scripts/model/pack_int8.py models/listener-sentiment-ml-large

Each matrix W of weights.safetensors becomes ``W`` (int8, round(W / scale)) plus ``W.scale``
(fp16, max |row| / 127); assembly multiplies them back (listener.scoring.assemble). Vectors and
small matrices stay fp16. Run after train.py and before train_anger.py (the anger head is fitted
on the model as it will be assembled).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import torch
from safetensors.torch import load_file, save_file

from listener.scoring.assemble import ARTEFACT_FILE, SCALE_SUFFIX, WEIGHTS_FILE

MIN_ELEMENTS = 65536


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("artefact", type=Path)
    args = ap.parse_args()
    path = args.artefact / WEIGHTS_FILE
    tensors = load_file(str(path))
    if any(k.endswith(SCALE_SUFFIX) for k in tensors):
        raise SystemExit(f"{path} is already packed")
    out: dict[str, torch.Tensor] = {}
    for name, value in tensors.items():
        if value.dim() != 2 or value.numel() < MIN_ELEMENTS:
            out[name] = value
            continue
        w = value.float()
        scale = (w.abs().amax(dim=1, keepdim=True) / 127).clamp(min=1e-12).half()
        out[name] = torch.round(w / scale.float()).clamp(-127, 127).to(torch.int8).contiguous()
        out[name + SCALE_SUFFIX] = scale.contiguous()
    before = path.stat().st_size
    save_file(dict(sorted(out.items())), str(path), {"format": "pt"})
    meta_path = args.artefact / ARTEFACT_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta["storage"] = "matrices int8 with fp16 row scales (scripts/model/pack_int8.py)"
    meta_path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"{path}: {before / 1e6:.1f} MB -> {path.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
