"""The angry-mention rule and per-brand policies (pure)."""

from __future__ import annotations

from datetime import timedelta

from listener.config import parse_settings
from listener.domain import Sentiment, StoredMention
from listener.rules import BrandPolicy, judge_mention, mention_alert, policies_from_settings
from tests.factories import T0, mention

POLICY = BrandPolicy(brand="Aurora Air", handles=frozenset({"auroraair"}))


def _stored(n: int = 1, **fields: object) -> StoredMention:
    return StoredMention(id=n, mention=mention(n, **fields), collected_at=T0)


def _s(negative: float, anger: float) -> Sentiment:
    rest = (1 - negative) / 2
    return Sentiment(
        label="negative",
        probabilities={"negative": negative, "neutral": rest, "positive": rest},
        anger=anger,
    )


def test_strong_negative_with_high_anger_fires_and_says_why() -> None:
    alert = mention_alert(_stored(7), _s(0.9, 0.8), POLICY)
    assert alert is not None
    assert (alert.kind, alert.mention_id, alert.dedupe_key) == ("mention", 7, "mention:replay:7")
    assert alert.reason == "negative 0.90 ≥ 0.60; anger 0.80 ≥ 0.60"
    assert alert.details["anger_threshold"] == 0.6


def test_disappointed_but_not_angry_does_not_fire() -> None:
    decision = judge_mention(_stored(), _s(0.95, 0.3), POLICY)
    assert not decision.fired and "anger 0.30 < 0.60" in decision.reason
    assert mention_alert(_stored(), _s(0.4, 0.9), POLICY) is None


def test_high_reach_authors_have_a_lower_bar() -> None:
    assert mention_alert(_stored(1), _s(0.55, 0.5), POLICY) is None
    big = _stored(1, author_reach=50_000)
    alert = mention_alert(big, _s(0.55, 0.5), POLICY)
    assert alert is not None and "high-reach author (50,000 ≥ 10,000 followers)" in alert.reason


def test_the_brands_own_account_never_fires() -> None:
    for author in ("AuroraAir", "@auroraair"):
        decision = judge_mention(_stored(author=author), _s(0.99, 0.99), POLICY)
        assert not decision.fired and decision.reason == "the brand's own account"


def test_brand_overrides_replace_only_the_keys_they_set() -> None:
    settings = parse_settings(
        """
        [alerts]
        anger_threshold = 0.7
        storm_threshold = 20
        [[brands]]
        name = "Aurora Air"
        query = "aurora"
        handles = ["@AuroraAir"]
        slack_channel = "#aurora"
        alerts = { anger_threshold = 0.5, storm_window = "30m" }
        [[brands]]
        name = "Nimbus"
        query = "nimbus"
        """
    )
    policies = policies_from_settings(settings)
    aurora, nimbus = policies["Aurora Air"], policies["Nimbus"]
    assert (aurora.anger_threshold, aurora.storm_threshold) == (0.5, 20)
    assert aurora.storm_window == timedelta(minutes=30) and aurora.channel == "#aurora"
    assert aurora.handles == frozenset({"auroraair"})
    assert (nimbus.anger_threshold, nimbus.storm_window) == (0.7, timedelta(minutes=10))


def test_mentions_already_old_when_collected_never_fire() -> None:
    old = StoredMention(
        id=1, mention=mention(1, created_at=T0 - timedelta(days=3)), collected_at=T0
    )
    decision = judge_mention(old, _s(0.99, 0.99), POLICY)
    assert not decision.fired and "max_age 1 day, 0:00:00" in decision.reason
    lenient = BrandPolicy(brand="Aurora Air", max_age=timedelta(days=7))
    assert mention_alert(old, _s(0.99, 0.99), lenient) is not None
