"""Tokenising for complaint drivers (any script, no English-only assumptions) and the
log-odds ranking."""

from __future__ import annotations

from listener.trends.drivers import rising
from listener.trends.stopwords import BY_LANGUAGE, for_language
from listener.trends.terms import brand_words, terms


def test_every_promised_language_has_stop_words() -> None:
    for code in ("en", "pl", "lv", "lt", "sl", "he", "de", "fr", "es", "ru", "uk", "ar"):
        assert len(BY_LANGUAGE[code]) >= 20, code
    assert "nie" in for_language("pl") and "the" in for_language(None)
    assert for_language("pt-BR") == BY_LANGUAGE["pt"]


def test_terms_are_words_and_phrases_without_urls_handles_or_stop_words() -> None:
    found = terms(
        "@AuroraAir LOST my luggage!!! https://t.co/xyz #LostLuggage u/someone 2024",
        "en",
        skip=brand_words("Aurora Air"),
    )
    assert found == {"lost", "luggage", "lost luggage", "lostluggage"}


def test_scripts_and_diacritics_are_kept() -> None:
    assert {"bagaż", "zgubiony bagaż"} <= terms("Zgubiony bagaż, znowu!", "pl")
    assert "kavējās" in terms("Lidojums kavējās divas stundas", "lv")
    assert "מזוודה אבודה" in terms("מזוודה אבודה שוב", "he")
    assert {"荷物", "紛失"} <= {t.replace(" ", "") for t in terms("荷物が紛失", "ja")}
    assert "zgubiony bagaż" not in terms("zgubiony. bagaż", "pl"), "no phrase across a stop"


def test_rising_ranks_what_is_new_and_ignores_what_is_always_there() -> None:
    period = {"delay": 30, "lost luggage": 25, "lost": 26, "luggage": 25, "crew": 5}
    baseline = {"delay": 120, "crew": 20, "lost luggage": 2, "lost": 4, "luggage": 2}
    ranked = rising(period, baseline, documents=60, baseline_documents=240)
    assert ranked[0].term == "lost luggage"
    assert "luggage" not in [r.term for r in ranked], "folded into its phrase"
    assert "delay" not in [r.term for r in ranked] and "crew" not in [r.term for r in ranked]
    assert rising({}, baseline, documents=0, baseline_documents=240) == []
