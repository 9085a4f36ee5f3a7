"""Terms of a mention for complaint drivers: words and two-word phrases, any script.

Tokenising is the same for every language: URLs, @handles and u/ r/ names are removed, the
text is casefolded and split on Unicode word characters (letters with their marks, digits;
an apostrophe or hyphen inside a word keeps it whole), '#tag' counts as 'tag'. Scripts written
without spaces (Chinese, Japanese, Thai) give one term per character, so their two-character
phrases come out as bigrams. Stop words of the mention's language are dropped, as are numbers,
one-letter words and the brand's own name; bigrams are formed over what is left.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from listener.trends.stopwords import for_language

MAX_TERMS = 64
"""At most this many distinct terms per mention (a pasted essay does not outweigh a tweet)."""
MAX_TERM_LENGTH = 60

_STRIP = re.compile(r"https?://\S+|www\.\S+|(?<!\w)@\w+|(?<!\w)[ur]/\w+", re.IGNORECASE)
_WORD = re.compile(r"\w(?:[\w\u0300-\u036f]|['’\-](?=\w))*")
_BREAK = re.compile(r"[.,;:!?()\[\]{}\"«»“”„|/…。、！？،؛]")
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\u0e00-\u0e7f\uac00-\ud7af]")


def words(text: str) -> list[str]:
    """The casefolded words of ``text`` in order (URLs and handles removed)."""
    return [word for word, _ in _words(text)]


def _words(text: str) -> list[tuple[str, bool]]:
    """(word, whether punctuation separates it from the word before)."""
    out: list[tuple[str, bool]] = []
    folded = _STRIP.sub(" ", text.casefold())
    end = 0
    for match in _WORD.finditer(folded):
        broken = _BREAK.search(folded, end, match.start()) is not None
        end = match.end()
        word = match.group().replace("’", "'").strip("'-_")
        if _UNSPACED.search(word):
            out.extend((ch, broken and i == 0) for i, ch in enumerate(word) if ch.strip())
        elif word:
            out.append((word, broken))
    return out


def _content(word: str, stop: frozenset[str], skip: frozenset[str]) -> bool:
    if word in stop or word in skip or word.isdigit():
        return False
    return len(word) > 1 or bool(_UNSPACED.match(word))


def terms(text: str, lang: str | None, *, skip: Iterable[str] = ()) -> set[str]:
    """The distinct words and bigrams of ``text`` that can drive a complaint. ``skip``: words
    never to count (the brand's own name)."""
    stop = for_language(lang)
    skipped = frozenset(skip)
    found: set[str] = set()
    previous: str | None = None
    for word, broken in _words(text):
        if broken:
            previous = None  # no phrase across punctuation
        if not _content(word, stop, skipped):
            continue  # a stop word in between still makes a phrase: 'lost my luggage'
        word = word[:MAX_TERM_LENGTH]
        found.add(word)
        if previous is not None:
            found.add(f"{previous} {word}")
        previous = word
        if len(found) >= MAX_TERMS:
            break
    return found


def brand_words(brand: str) -> frozenset[str]:
    """The words of a brand's name ('Aurora Air' -> aurora, air, auroraair)."""
    parts = words(brand)
    return frozenset([*parts, "".join(parts)])
