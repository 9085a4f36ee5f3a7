"""X long posts: the collector asks for ``note_tweet`` and stores the whole text; the emulator
cuts ``text`` to 280 characters and gives the rest in ``note_tweet`` only when asked, as X does."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import timedelta

import pytest

from listener.emulators.twitter import LONG_POST, SEARCH_PATH, TwitterEmulator
from tests.test_twitter_collector import AURORA, NOW, TOKEN, collector, make_tweets

LONG = (
    "@AuroraAir thread about flight AU 212: "
    + "the crew was lovely but the bags went to Riga, then Vilnius, then nowhere. " * 8
    + "Lietuviškai: lagaminas dingo, o klientų aptarnavimas neatsako. END-OF-POST"
)


@pytest.fixture
def emulator() -> Iterator[TwitterEmulator]:
    emu = TwitterEmulator(bearer_token=TOKEN).start()
    [tweet] = make_tweets(1, NOW, text=LONG)
    short = make_tweets(1, NOW - timedelta(seconds=5), text="short @AuroraAir")
    emu.add([tweet, *short])
    yield emu
    emu.stop()


def test_the_whole_text_of_a_long_post_is_stored(emulator: TwitterEmulator) -> None:
    assert len(LONG) > LONG_POST
    batch = collector(emulator).collect(AURORA, None)
    texts = sorted((m.text for m in batch.mentions), key=len)
    assert texts == ["short @AuroraAir", LONG]
    [search] = emulator.received(SEARCH_PATH)
    assert "note_tweet" in (search.param("tweet.fields") or "").split(",")
    long = max(batch.mentions, key=lambda m: len(m.text))
    assert long.raw["note_tweet"]["text"] == LONG and long.raw["text"].endswith("…")


def test_without_note_tweet_the_api_sends_the_first_280_characters(
    emulator: TwitterEmulator,
) -> None:
    url = f"{emulator.base_url}{SEARCH_PATH}?query=%40AuroraAir&tweet.fields=created_at"
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        page = json.loads(answer.read())
    long = max(page["data"], key=lambda t: len(t["text"]))
    assert len(long["text"]) == LONG_POST and long["text"] == LONG[: LONG_POST - 1] + "…"
    assert all("note_tweet" not in t for t in page["data"])


def test_a_note_tweet_that_is_not_an_object_is_quarantined(emulator: TwitterEmulator) -> None:
    [tweet] = make_tweets(1, NOW + timedelta(seconds=30), text="@AuroraAir broken note")
    tweet["note_tweet"] = "not an object"
    emulator.add([tweet])
    batch = collector(emulator).collect(AURORA, None)
    assert len(batch.mentions) == 2
    [bad] = batch.quarantined
    assert "has a note_tweet that is not a JSON object" in bad.reason
