"""Label-preserving variants of our own mentions, as people really type them.

Each written mention gets a few variants: without diacritics (``ł``/``đ``/``ß`` too), lower-cased,
one typo (two letters swapped, one dropped or doubled), an emoji that agrees with the label and
the anger, and an angry post shouted in capitals or with ``!!!``/``?!?!``. The label and the
anger flag never change: none of these edits changes what the author meant.
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import replace

from datasets import Example

_LETTERS = str.maketrans({"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ß": "ss", "ø": "o", "Ø": "O"})
_EMOJI = {
    "angry": ["🤬", "😡", "😤", "🤬🤬", "😡😡😡", "👎👎", "🖕"],
    "negative": ["😞", "🙄", "😕", "😒", "👎", "😩", "🤦", "💀"],
    "neutral": ["🤔", "👀", "ℹ️", "📦", "✈️", ""],
    "positive": ["😍", "👍", "🙌", "❤️", "🔥", "👏", "😊", "💯", "🥰"],
}


def strip_diacritics(text: str) -> str:
    """The text as typed on a keyboard without the language's diacritics (Hebrew untouched)."""
    out = []
    for ch in unicodedata.normalize("NFD", text.translate(_LETTERS)):
        # Only Latin combining marks go: Hebrew points and Arabic harakat stay (rare online).
        if unicodedata.combining(ch) and "\u0300" <= ch <= "\u036f":
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def typo(text: str, rng: random.Random) -> str:
    """One slip of the finger inside a word of four or more letters."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap":
        w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    elif kind == "drop":
        w = w[:j] + w[j + 1 :]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


def _mood(row: Example) -> str:
    return "angry" if row.anger else row.label


def variants(row: Example, rng: random.Random, n: int) -> list[Example]:
    """Up to ``n`` distinct variants of ``row`` (never the text itself)."""
    edits = [
        strip_diacritics,
        str.lower,
        lambda t: typo(t, rng),
        lambda t: f"{t} {rng.choice(_EMOJI[_mood(row)])}".strip(),
        lambda t: strip_diacritics(t).lower(),
    ]
    if row.anger:
        edits += [str.upper, lambda t: t.rstrip(".!? ") + rng.choice(("!!!", "?!?!", "!!!!!!"))]
    rng.shuffle(edits)
    seen = {row.text}
    out: list[Example] = []
    for edit in edits:
        text = edit(row.text)
        if text not in seen:
            seen.add(text)
            out.append(replace(row, text=text))
        if len(out) >= n:
            break
    return out


def augmented(rows: list[Example], rng: random.Random, per_row: int) -> list[Example]:
    """``rows`` followed by up to ``per_row`` variants of each."""
    extra = [v for row in rows for v in variants(row, rng, per_row)]
    return rows + extra
