"""Label maps, HF-style models, missing models, durations: no bundled model needed."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from listener.domain import LABELS
from listener.errors import ModelError
from listener.scoring.labels import resolve_label_map
from tests.factories import tiny_model


def test_label_names_are_matched_case_insensitively() -> None:
    assert resolve_label_map({0: "Negative", 1: "NEUTRAL", 2: "positive"}) == list(LABELS)
    assert resolve_label_map({0: "pos", 1: "neg"}) == ["positive", "negative"]


def test_default_hf_names_mean_negative_neutral_positive() -> None:
    assert resolve_label_map({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}) == list(LABELS)


def test_overrides_win_and_unknown_labels_are_named() -> None:
    stars = {0: "1 star", 1: "3 stars", 2: "5 stars"}
    mapping = {"1 star": "negative", "3 stars": "neutral", "5 stars": "positive"}
    assert resolve_label_map(stars, mapping) == list(LABELS)
    with pytest.raises(ModelError, match="1 star"):
        resolve_label_map(stars)
    with pytest.raises(ModelError, match="expected one of"):
        resolve_label_map(stars, {"1 star": "furious"})


def test_any_local_hf_model_with_default_label_names_scores(tmp_path: Path) -> None:
    from listener.scoring.factory import build_scorer

    model_dir = tiny_model(tmp_path / "tiny")  # default LABEL_0..2 names
    scorer = build_scorer(
        name=str(model_dir),
        labels={},
        batch_size=2,
        max_length=16,
        quantize=False,
        threads=1,
        cache_dir=str(tmp_path / "cache"),
    )
    texts = ["good coffee", "bad awful coffee !!!", "", "great " * 500]
    out = scorer.score(texts)
    assert len(out) == 4
    assert scorer.model_id.startswith("tiny@")
    for s in out:
        assert s.label in LABELS
        assert set(s.probabilities) == set(LABELS)
        assert abs(sum(s.probabilities.values()) - 1) < 1e-6
        assert 0.0 <= s.anger <= 1.0


def test_missing_local_model_says_how_to_get_it(tmp_path: Path) -> None:
    from listener.scoring.factory import build_scorer

    with pytest.raises(ModelError) as err:
        build_scorer(
            name=str(tmp_path / "no-such-model"),
            labels={},
            batch_size=8,
            max_length=32,
            quantize=False,
            threads=1,
            cache_dir=None,
        )
    assert "huggingface-cli download" in str(err.value)
    assert "listener-sentiment-ml" in str(err.value)


def test_since_accepts_durations_and_dates() -> None:
    from listener.cli.model import parse_since

    now = datetime(2024, 5, 10, 12, tzinfo=UTC)
    assert parse_since("7d", now=now) == now - timedelta(days=7)
    assert parse_since("90m", now=now) == now - timedelta(minutes=90)
    assert parse_since("2024-05-01") == datetime(2024, 5, 1, tzinfo=UTC)


def test_importing_listener_scoring_does_not_import_torch() -> None:
    code = (
        "import sys, json, listener, listener.scoring, listener.scoring.factory;"
        "import listener.cli.model;"
        "print(json.dumps([m for m in ('torch', 'transformers') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
