"""Language identification for scored texts (py3langid, offline, imported lazily)."""

from __future__ import annotations

from typing import Any

MIN_LETTERS = 3
"""Below this many letters a guess is noise: the language is reported as unknown (None)."""


class LanguageGuesser:
    """ISO 639-1 code of a text's language, or None when there is too little text."""

    def __init__(self) -> None:
        self._identifier: Any = None

    def _load(self) -> Any:
        if self._identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE)
        return self._identifier

    def guess(self, text: str) -> str | None:
        """The most likely language of ``text`` (first 1,000 characters), or None."""
        sample = text[:1000]
        if sum(ch.isalpha() for ch in sample) < MIN_LETTERS:
            return None
        lang, _score = self._load().classify(sample)
        return str(lang)
