"""Fit the anger head of the bundled model on our own multilingual angry-vs-not mentions.

It reads [CLS] features from the model assembled from the current artefact (the same path as
at run time, int8 by default), fits a logistic regression, and writes anger.safetensors and the
anger settings into models/<name>/. Run after scripts/model/train.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from datasets import REPO, multilingual_train
from sklearn.linear_model import LogisticRegressionCV

from listener.scoring.anger import AngerHead
from listener.scoring.assemble import ANGER_FILE, ARTEFACT_FILE, assemble
from listener.scoring.transformer import TransformerScorer, clean_text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", default="listener-sentiment-ml")
    ap.add_argument("--no-quantize", action="store_true")
    args = ap.parse_args()
    art = REPO / "models" / args.name
    (art / ANGER_FILE).unlink(missing_ok=True)  # features do not depend on the old head
    rows = multilingual_train()
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = assemble(art, Path(tmp) / "model")
        scorer = TransformerScorer(
            source=model_dir, model_id="train", quantize=not args.no_quantize
        )
        _raw, feats = scorer.raw_outputs([clean_text(r.text) for r in rows], features=True)
    assert feats is not None
    y = np.array([r.anger or 0 for r in rows])
    # L2 strength chosen by 5-fold cross-validation on the training mentions only.
    clf = LogisticRegressionCV(
        Cs=[0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
        cv=5,
        scoring="roc_auc",
        class_weight="balanced",
        max_iter=5000,
    )
    clf.fit(feats, y)
    chosen_c = float(clf.C_[0])
    head = AngerHead(clf.coef_[0].astype(np.float32), float(clf.intercept_[0]))
    head.save(art)
    meta = json.loads((art / ARTEFACT_FILE).read_text(encoding="utf-8"))
    meta["anger"] = {
        "head": "logistic regression on the final [CLS] hidden state",
        "combine": "sqrt(head probability * negative probability)",
        "train_rows": len(rows),
        "angry_rows": int(y.sum()),
        "C": chosen_c,
    }
    (art / ARTEFACT_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"anger head: {int(y.sum())} angry of {len(rows)}; C {chosen_c} (5-fold CV)")


if __name__ == "__main__":
    main()
