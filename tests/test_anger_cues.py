"""Surface cues of fury for the anger head: words in every promised language, emoji, shouting."""

from __future__ import annotations

import numpy as np

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
