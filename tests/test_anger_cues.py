"""Surface cues of fury for the anger head: words in every promised language, emoji, shouting."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from listener.scoring.anger import AngerHead
from listener.scoring.anger_cues import CUE_NAMES, cue_features


def test_fury_words_count_in_every_promised_language_with_or_without_diacritics() -> None:
    furious = [
        "I'm furious, never again",
        "Jestem wściekły, nigdy więcej!",
        "jestem wsciekly, nigdy wiecej",
        "esmu dusmīgs, nekad vairs",
        "esu įsiutęs, daugiau niekada",
        "esu isiutes, daugiau niekada",
        "jezen sem, nikoli več",
        "אני כועס, לעולם לא עוד",
    ]
    words = cue_features(furious)[:, CUE_NAMES.index("fury words")]
    assert (words >= 2 / 3).all(), dict(zip(furious, words, strict=True))


def test_calm_texts_and_look_alike_words_give_no_fury_words() -> None:
    calm = [
        "Great service, thank you",
        "boost your savings with the new account",
        "Dzięki, super obsługa",
        "Paldies, lielisks serviss",
        "sudaryti sutartį",
        "",
    ]
    assert not cue_features(calm)[:, CUE_NAMES.index("fury words")].any()


def test_emoji_shouting_and_runs_are_counted_and_capped() -> None:
    rows = cue_features(
        ["@Brand 🤬🤬🤬🤬🤬", "WHERE THE HELL IS MY PARCEL", "why?!?! again?!", "ok"]
    )
    assert rows[0, CUE_NAMES.index("rage emoji")] == 1.0  # five, capped at three
    assert rows[1, CUE_NAMES.index("shouting")] == 1.0
    assert rows[2, CUE_NAMES.index("!? runs")] == 2 / 3
    assert not rows[3].any()
    assert rows.dtype == np.float32 and (rows <= 1.0).all()


def test_hedges_and_sad_emoji_speak_against_fury() -> None:
    rows = cue_features(
        [
            "A bit disappointed, unfortunately",
            "trochę szkoda, niestety",
            "mazliet vīlos",
            "@Brand 🐌🐌😔",
            "I'm furious 🤬",
        ]
    )
    hedges = rows[:, CUE_NAMES.index("hedges")]
    sad = rows[:, CUE_NAMES.index("sad emoji")]
    assert (hedges[:3] >= 2 / 3).all(), hedges
    assert sad[3] == 1.0 and hedges[3] == 0.0
    assert hedges[4] == 0.0 and sad[4] == 0.0


def test_a_head_trained_with_the_first_four_cues_still_scores(tmp_path: Path) -> None:
    """Model directories assembled before the hedge and sad-emoji cues keep working."""
    weight = np.zeros(8, dtype=np.float32)
    AngerHead(weight, 0.0, cue_weight=np.array([3.0, 0.0, 0.0, 0.0], np.float32)).save(tmp_path)
    head = AngerHead.load(tmp_path)
    assert head is not None
    p = head.probability(np.zeros((2, 8), np.float32), ["I'm furious, thieves", "a bit sad 😔"])
    assert p[0] > p[1] == 0.5
