"""Rollups equal a recomputation from scratch after any sequence of writes (SQLite and
PostgreSQL): new mentions and brand links, scores and re-scores, overrides, label rules,
alerts, deliveries, acks and the withdrawals of queued alerts that relabelling causes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, select

from listener.domain import Batch, BrandQuery, NewAlert, Score
from listener.store.labels import SqlLabels
from listener.store.outbox import SqlOutbox
from listener.store.rollups import rebuild
from listener.store.schema import (
    brand_hours,
    mention_brands,
    metadata,
    term_rollups,
    trend_rollups,
    watermarks,
)
from listener.store.sql import SqlStore
from tests.factories import T0, mention, sentiment

BRANDS = ("Aurora Air", "Nordlys Mobile")
WORDS = ["lost", "luggage", "delay", "refund", "great", "crew", "zgubiony", "bagaż", "kavējās"]
LANGS = [None, "en", "pl", "lv"]

texts = st.lists(st.sampled_from(WORDS), min_size=1, max_size=5).map(" ".join)
insert_op = st.tuples(
    st.just("insert"),
    st.sampled_from(BRANDS),
    st.lists(
        st.tuples(st.integers(0, 12), texts, st.sampled_from(LANGS), st.integers(0, 50)),
        min_size=1,
        max_size=4,
    ),
)
score_op = st.tuples(
    st.just("score"),
    st.sampled_from(["m@1", "m@2"]),
    st.lists(st.tuples(st.sampled_from(["negative", "neutral", "positive"]), st.floats(0, 1))),
)
override_op = st.tuples(
    st.just("override"), st.integers(0, 12), st.sampled_from(["negative", "positive", None])
)
rule_op = st.tuples(
    st.just("rule"),
    st.sampled_from(WORDS),
    st.sampled_from(["negative", "neutral", "positive"]),
    st.sampled_from([None, *BRANDS]),
)
unrule_op = st.tuples(st.just("unrule"), st.integers(0, 3))
apply_op = st.tuples(st.just("apply"))
alert_op = st.tuples(st.just("alert"), st.integers(0, 12), st.booleans())
send_op = st.tuples(st.just("send"), st.integers(0, 12))
ops = st.lists(
    st.one_of(insert_op, score_op, override_op, rule_op, unrule_op, apply_op, alert_op, send_op),
    max_size=14,
)


def _reset(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))
        conn.execute(insert(watermarks).values(name="rollups", value="ok"))


def _tables(engine: Engine) -> tuple[Any, ...]:
    """Every rollup (rows that are all zero left out) and the labels on mention_brands."""

    def rows(table: Any, keys: int) -> dict[Any, tuple[Any, ...]]:
        out = {}
        for row in conn.execute(select(table)):
            values = tuple(round(float(v), 6) for v in row[keys:])
            if any(values):
                out[tuple(row[:keys])] = values
        return out

    with engine.connect() as conn:
        links = {
            (r.mention_id, r.brand): (
                r.label,
                None if r.anger is None else round(r.anger, 6),
                r.lang,
                r.source,
            )
            for r in conn.execute(select(mention_brands))
        }
        return rows(trend_rollups, 4), rows(brand_hours, 2), rows(term_rollups, 3), links


def _run(engine: Engine, steps: list[tuple[Any, ...]]) -> None:
    store, labels, outbox = SqlStore(engine), SqlLabels(engine), SqlOutbox(engine)
    rules: list[str] = []
    for n, step in enumerate(steps):
        kind = step[0]
        ids = [m.id for m in store.iter_mentions()]
        if kind == "insert":
            _, brand, items = step
            batch = [
                mention(i, brand=brand, text=t, lang=lang, author_reach=reach)
                for i, t, lang, reach in items
            ]
            store.add_batch("replay", BrandQuery(brand=brand, query="x"), Batch(mentions=batch))
        elif kind == "score" and ids:
            _, model, verdicts = step
            chosen = ids[: len(verdicts)]
            store.add_scores(
                [
                    Score(
                        mention_id=i, model=model, sentiment=sentiment(label, anger), scored_at=T0
                    )
                    for i, (label, anger) in zip(chosen, verdicts, strict=False)
                ],
                [
                    NewAlert(
                        kind="mention",
                        brand=BRANDS[0],
                        dedupe_key=f"m{i}",
                        reason="r",
                        mention_id=i,
                    )
                    for i, (label, _) in zip(chosen, verdicts, strict=False)
                    if label == "negative"
                ],
            )
        elif kind == "override" and ids:
            target = ids[step[1] % len(ids)]
            if step[2] is None:
                labels.clear_override(target)
            else:
                labels.override(target, step[2], by="ana", at=T0)
        elif kind == "rule":
            name = f"r{n}"
            labels.add_rule(name=name, query=step[1], label=step[2], brand=step[3], by="t", at=T0)
            rules.append(name)
        elif kind == "unrule" and rules:
            labels.remove_rule(rules.pop(step[1] % len(rules)))
        elif kind == "apply":
            labels.apply_rules()
        elif kind == "alert":
            existing = outbox.list()
            if step[2] and existing:
                outbox.ack(
                    existing[step[1] % len(existing)].id, by="ana", at=T0 + timedelta(hours=1)
                )
            else:
                outbox.add_alerts(
                    [NewAlert(kind="spike", brand=BRANDS[1], dedupe_key=f"s{n}", reason="r")]
                )
        elif kind == "send":  # a delivered alert is never withdrawn by a later override
            due = outbox.due(T0 + timedelta(days=1), 100)
            if due:
                at = T0 + timedelta(days=1)
                claim = outbox.claim(due[step[1] % len(due)].id, now=at, lease=timedelta(minutes=1))
                if claim is not None:
                    outbox.mark_sent(claim, at)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=ops)
@example(  # alerts of two negative mentions; one sent, both relabelled: the other is withdrawn
    steps=[
        ("insert", BRANDS[0], [(0, "lost luggage", "en", 5), (1, "delay", None, 0)]),
        ("score", "m@1", [("negative", 0.9), ("negative", 0.2)]),
        ("send", 0),
        ("override", 0, "positive"),
        ("rule", "delay", "neutral", None),
        ("apply",),
        ("override", 1, "negative"),
    ]
)
def test_rollups_equal_a_rebuild_after_any_writes(engine: Engine, steps: list[Any]) -> None:
    _reset(engine)
    _run(engine, steps)
    kept = _tables(engine)
    rebuild(engine)
    assert kept == _tables(engine)


def test_a_mention_of_two_brands_counts_for_both(engine: Engine) -> None:
    _reset(engine)
    store = SqlStore(engine)
    same = mention(1, text="Aurora Air vs Nordlys Mobile")
    for brand in BRANDS:
        store.add_batch("replay", BrandQuery(brand=brand, query="x"), Batch(mentions=[same]))
    with engine.connect() as conn:
        volumes = dict(conn.execute(select(trend_rollups.c.brand, trend_rollups.c.volume)).all())
    assert volumes == {BRANDS[0]: 1, BRANDS[1]: 1}
