"""Fit the anger head of the bundled model on our own multilingual angry-vs-not mentions.

It reads [CLS] features from the model assembled from the current artefact (the same path as
at run time, int8 by default), fits a logistic regression on our own training mentions and
their augmented variants (no diacritics, typos, emoji, shouting: see augment.py), and writes
anger.safetensors and the anger settings into models/<name>/. Run after scripts/model/train.py.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from augment import variants
from datasets import REPO, SEED, own_train
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.model_selection import GroupKFold, cross_val_predict

from listener.rules import BrandPolicy
from listener.scoring.anger import AngerHead
from listener.scoring.anger_cues import CUE_NAMES, cue_features
from listener.scoring.assemble import ANGER_FILE, ARTEFACT_FILE, assemble
from listener.scoring.transformer import TransformerScorer, clean_text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", default="listener-sentiment-ml")
    ap.add_argument("--no-quantize", action="store_true")
    ap.add_argument("--artefact", type=Path, default=None, help="default: models/NAME")
    ap.add_argument(
        "--beta",
        type=float,
        default=2.0,
        help="the bias shift maximises this F-beta of the alert rule out of fold (2: recall "
        "counts twice: a furious customer missed costs more than one alert too many, and other "
        "writers' angry posts are less typical than ours)",
    )
    args = ap.parse_args()
    art = args.artefact or REPO / "models" / args.name
    (art / ANGER_FILE).unlink(missing_ok=True)  # features do not depend on the old head
    rng = random.Random(SEED)
    written = own_train()
    # Each written mention and its variants form one group: cross-validation folds never split
    # them, so out-of-fold figures are not inflated by near-copies.
    rows, groups = [], []
    for n, row in enumerate(written):
        for r in (row, *variants(row, rng, 2)):
            rows.append(r)
            groups.append(n)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = assemble(art, Path(tmp) / "model")
        scorer = TransformerScorer(
            source=model_dir, model_id="train", quantize=not args.no_quantize
        )
        raw, feats = scorer.raw_outputs([clean_text(r.text) for r in rows], features=True)
        negative = scorer.three_class(raw)[:, 0]
    assert feats is not None
    # The text's surface cues beside the model's features (listener/scoring/anger_cues.py).
    cues = cue_features([clean_text(r.text) for r in rows])
    feats = np.hstack([feats, cues])
    y = np.array([r.anger or 0 for r in rows])
    folds = list(GroupKFold(n_splits=5).split(feats, y, groups))
    # No class re-weighting: the head's probability stays calibrated to how often customers are
    # angry (balanced weights made mildly annoyed posts look angry: alert precision 0.67).
    clf = LogisticRegressionCV(Cs=[0.01, 0.03, 0.1, 0.3, 1.0], cv=folds, max_iter=5000)
    clf.fit(feats, y)
    chosen_c = float(clf.C_[0])
    out_of_fold = cross_val_predict(
        LogisticRegression(C=chosen_c, max_iter=5000),
        feats,
        y,
        cv=folds,
        method="decision_function",
    )
    shift, (precision, recall) = best_shift(out_of_fold, negative, y, args.beta)
    n = len(CUE_NAMES)
    head = AngerHead(
        clf.coef_[0][:-n].astype(np.float32),
        float(clf.intercept_[0]) + shift,
        cue_weight=clf.coef_[0][-n:].astype(np.float32),
    )
    head.save(art)
    meta = json.loads((art / ARTEFACT_FILE).read_text(encoding="utf-8"))
    meta["anger"] = {
        "head": "logistic regression on the final [CLS] hidden state and surface cues",
        "cue_weights": {
            k: round(float(w), 3) for k, w in zip(CUE_NAMES, clf.coef_[0][-n:], strict=True)
        },
        "combine": "sqrt(head probability * negative probability)",
        "train_rows": len(rows),
        "angry_rows": int(y.sum()),
        "C": chosen_c,
        "bias_shift": round(shift, 2),
        "bias_shift_objective": f"out-of-fold alert F{args.beta:g}",
        "out_of_fold_alert_precision": round(precision, 3),
        "out_of_fold_alert_recall": round(recall, 3),
    }
    (art / ARTEFACT_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(
        f"anger head: {int(y.sum())} angry of {len(rows)}; C {chosen_c}; bias shift {shift:+.2f}: "
        f"out-of-fold alert precision {precision:.3f}, recall {recall:.3f} (5 group folds)"
    )


def best_shift(
    logits: np.ndarray, negative: np.ndarray, angry: np.ndarray, beta: float
) -> tuple[float, tuple[float, float]]:
    """The shift of the head's bias that maximises the F-beta of the default alert rule
    (negative and anger at or above the default thresholds) on out-of-fold training
    predictions."""
    policy = BrandPolicy(brand="training")
    best = (-1.0, 0.0, (0.0, 0.0))
    for step in range(-30, 31):
        shift = step / 10
        head = 1.0 / (1.0 + np.exp(-(logits + shift)))
        fired = (negative >= policy.negative_threshold) & (
            np.sqrt(head * negative) >= policy.anger_threshold
        )
        hits = float((fired & (angry == 1)).sum())
        precision = hits / max(1.0, float(fired.sum()))
        recall = hits / max(1.0, float(angry.sum()))
        b2 = beta * beta
        f = (1 + b2) * precision * recall / max(1e-9, b2 * precision + recall)
        if step % 5 == 0:  # the curve, every 0.5
            print(
                f"  bias shift {shift:+.1f}: out-of-fold precision {precision:.3f}, "
                f"recall {recall:.3f}"
            )
        if f > best[0]:
            best = (f, float(shift), (precision, recall))
    return best[1], best[2]


if __name__ == "__main__":
    main()
