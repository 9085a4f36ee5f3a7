"""Latency from the end of the poll that stored an angry mention to Slack receiving its alert.

Each of N polls stores one angry mention (``Store.add_batch``, the collector's commit); then the
score job runs (``pipeline.score_pending`` with a constant scorer, so scoring time is excluded:
add your model's per-batch time) and the dispatch job runs (``Alerting.dispatch``) through the
real slack-sdk to the Slack emulator on 127.0.0.1. The clock stops when the emulator has the
message. This is the path the daemon takes when a poll that stored mentions triggers the score
job at once and a score run that raised alerts triggers the dispatch job at once.

    python scripts/bench_alerts.py [--count 100] [--db URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from pydantic import SecretStr

from listener.alerting import Alerting
from listener.config import SlackSettings
from listener.dispatch import Dispatcher
from listener.domain import Batch, BrandQuery, Mention, Sentiment, utcnow
from listener.emulators.slack import SlackEmulator
from listener.notifiers import slack
from listener.pipeline import score_pending
from listener.rules import BrandPolicy
from listener.store.db import connect, upgrade
from listener.store.outbox import SqlOutbox
from listener.store.sql import SqlStore

BRAND = "Aurora Air"
ANGRY = Sentiment(
    label="negative", probabilities={"negative": 0.93, "neutral": 0.05, "positive": 0.02}, anger=0.9
)


class ConstantScorer:
    """Scores every text angry, instantly (the model's time is measured by its own bench)."""

    model_id = "bench-constant@1"

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        return [ANGRY for _ in texts]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--db", default=None, help="SQLAlchemy URL (default: a temp SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = connect(args.db or f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        emulator = SlackEmulator(token="xoxb-bench").start()
        settings = SlackSettings(
            token=SecretStr("xoxb-bench"),
            channel="#alerts",
            api_base=emulator.api_url,
            timeout=timedelta(seconds=5),
        )
        store, outbox = SqlStore(engine), SqlOutbox(engine)
        policy = BrandPolicy(brand=BRAND, channel="#alerts", storm_threshold=10 * args.count)
        dispatcher = Dispatcher(
            store=store, outbox=outbox, notifier=slack.build(settings), policies={BRAND: policy}
        )
        alerting = Alerting(store=store, outbox=outbox, dispatcher=dispatcher)
        query = BrandQuery(brand=BRAND, query="aurora")
        run = utcnow().strftime("%H%M%S%f")
        latencies: list[float] = []
        stages: dict[str, list[float]] = {"score job": [], "dispatch job": []}
        for n in range(args.count):
            item = Mention(
                source="replay",
                external_id=f"{run}-{n}",
                brand=BRAND,
                author=f"user{n}",
                text=f"aurora air lost my bag again, #{n}",
                created_at=utcnow(),
                author_reach=100,
                url=f"https://x.example/{n}",
            )
            store.add_batch("replay", query, Batch(mentions=[item]))
            poll_end = time.monotonic()
            before = len(emulator.messages)
            score_pending(
                store=store,
                outbox=outbox,
                scorer=ConstantScorer(),
                rule=alerting.mention_alert,
                handles={},
                batch_size=256,
                max_batches=1,
                now=utcnow(),
            )
            scored = time.monotonic()
            alerting.dispatch(utcnow())
            stages["score job"].append(scored - poll_end)
            stages["dispatch job"].append(time.monotonic() - scored)
            if len(emulator.messages) != before + 1:
                raise SystemExit(f"mention {n}: expected one Slack message")
            latencies.append(emulator.messages[-1].received_at - poll_end)
        emulator.stop()
        engine.dispose()
    ms = [x * 1000 for x in latencies]
    db = engine.dialect.name
    print(f"alert latency, poll end -> Slack emulator received ({args.count} mentions, {db}):")
    print(f"  p50 {statistics.median(ms):.1f} ms  p95 {_pct(ms, 95):.1f} ms  max {max(ms):.1f} ms")
    for name, values in stages.items():
        v = [x * 1000 for x in values]
        print(f"  {name}: p50 {statistics.median(v):.1f} ms  p95 {_pct(v, 95):.1f} ms")
    print("  (scoring excluded: constant scorer; target p95 <= 1000 ms + scoring time)")


if __name__ == "__main__":
    main()
