"""The TrendsReader on SQLite and PostgreSQL over the seeded multilingual world."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from listener.store.labels import SqlLabels
from listener.store.trends import SqlTrendsReader
from listener.trends.stopwords import ALL
from listener.trends.terms import terms
from tests.trends_world import AURORA, NORDLYS, NOW, seed


def test_the_rising_complaint_is_the_top_driver_with_examples(engine: Engine) -> None:
    seed(engine)
    reader = SqlTrendsReader(engine)
    drivers = reader.drivers(AURORA, since=NOW - timedelta(days=3), until=NOW, limit=8)
    top = [d.term for d in drivers]
    assert top, "something rises"
    rising = ("bagaż", "luggage", "מזוודה", "zgubi", "lost")
    assert any(r in term for term in top[:3] for r in rising), top
    assert not set(top) & ALL, "no stop words"
    assert "aurora" not in top and "air" not in top, "not the brand's own name"
    first = drivers[0]
    assert first.count > first.baseline_count
    assert first.examples and all(first.term in terms(e.text, e.lang) for e in first.examples)
    usual = reader.drivers(AURORA, since=NOW - timedelta(days=20), until=NOW - timedelta(days=13))
    assert not [d for d in usual if any(r in d.term for r in rising)], "not before the rise"


def test_drivers_with_a_language_filter_use_that_language(engine: Engine) -> None:
    seed(engine)
    reader = SqlTrendsReader(engine)
    drivers = reader.drivers(
        AURORA, since=NOW - timedelta(days=3), until=NOW, languages=("pl",), limit=5
    )
    assert drivers and any("bagaż" in d.term for d in drivers)
    assert all(e.lang == "pl" for d in drivers for e in d.examples)


def test_trend_share_of_voice_and_overrides(engine: Engine) -> None:
    seed(engine)
    reader = SqlTrendsReader(engine)
    until = NOW.replace(hour=0)
    since = until - timedelta(days=7)
    aurora, _ = reader.trends([AURORA, NORDLYS], since=since, until=until, bucket="day")
    assert len(aurora.points) == 7 and aurora.bucket == "day"
    assert aurora.total.volume == sum(p.volume for p in aurora.points) > 0
    assert aurora.total.scored == aurora.total.volume
    share = reader.share_of_voice([AURORA, NORDLYS], since=since, until=until)
    assert round(sum(v.share for v in share.brands), 6) == 100.0
    assert share.of(AURORA).volume == aurora.total.volume  # type: ignore[union-attr]
    hourly = reader.trend(AURORA, since=since, until=until, bucket="hour")
    assert len(hourly.points) == 7 * 24 and hourly.total.volume == aurora.total.volume
    only_reddit = reader.trend(AURORA, since=since, until=until, sources=("reddit",))
    assert 0 < only_reddit.total.volume < aurora.total.volume

    negative = reader.mentions(AURORA, since=since, until=until, label="negative", limit=1)[0]
    SqlLabels(engine).override(negative.mention_id, "positive", by="ana", at=NOW)
    after = reader.trend(AURORA, since=since, until=until)
    assert after.total.negative == aurora.total.negative - 1
    assert after.total.positive == aurora.total.positive + 1
    row = reader.mentions(AURORA, since=since, until=until, limit=200)
    changed = next(r for r in row if r.mention_id == negative.mention_id)
    assert (changed.label, changed.model_label, changed.overridden_by) == (
        "positive",
        "negative",
        "ana",
    )


def test_breakdown_and_summary(engine: Engine) -> None:
    seed(engine)
    reader = SqlTrendsReader(engine)
    since = NOW - timedelta(days=3)
    langs = reader.breakdown(AURORA, by="lang", since=since, until=NOW)
    assert {b.key for b in langs} >= {"pl", "en"}
    summary = reader.summary(AURORA, competitors=[NORDLYS], since=since, until=NOW)
    assert summary.total.volume > 0 and summary.previous.volume > 0
    assert summary.net_change < 0, "the luggage complaints pull net sentiment down"
    assert [v.brand for v in summary.share_of_voice.brands] == [AURORA, NORDLYS]
    assert summary.drivers
