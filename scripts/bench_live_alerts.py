"""End-to-end alert latency through the real daemon: X poll -> store -> bundled model -> Slack.

Starts the X and Slack emulators on 127.0.0.1 and ``listener run`` as a separate process (SQLite,
the bundled model, X polled every second, the default score and dispatch intervals: the daemon
wakes the next stage itself when one produced work). Then, one at a time, an angry tweet is
published to the X emulator; the clock starts when the daemon's next search request arrives
(the poll that will return it) and stops when the Slack emulator receives the alert. So each
figure includes the HTTP round trip, storing, scoring with the real model and delivery. Storm
control is switched off (``storm_threshold``) so every mention gets its own message.

The baseline, measured in the same run, is the model alone scoring one text (what a "score
every mention as it arrives" design could not go below).

    python scripts/bench_live_alerts.py [--count 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from listener.domain import utcnow
from listener.emulators.corpus import format_x_time
from listener.emulators.slack import SlackEmulator
from listener.emulators.twitter import SEARCH_PATH, TwitterEmulator, snowflake

TEXTS = [
    "@AuroraAir lost my bag AGAIN and nobody answers. I want a full refund, never flying with you!",
    "@AuroraAir trzecia godzina opóźnienia i zero informacji. Żądam zwrotu pieniędzy, skandal!",
    "@AuroraAir jau trešo reizi pazaudēta soma! Pieprasu naudu atpakaļ, nekad vairs!",
    "@AuroraAir vėl atšaukė skrydį be jokio paaiškinimo. Reikalauju grąžinti pinigus!",
    "@AuroraAir že tretjič izgubljena prtljaga! Zahtevam vračilo denarja, nikoli več!",
    "@AuroraAir איבדתם לי את המזוודה בפעם השלישית! תחזירו לי את הכסף, לעולם לא שוב!",
]


def _tweet(n: int) -> dict[str, object]:
    now = utcnow()
    tweet_id = snowflake(now, n)
    return {
        "id": tweet_id,
        "edit_history_tweet_ids": [tweet_id],
        "author_id": str(5000 + n),
        "created_at": format_x_time(now),
        "conversation_id": tweet_id,
        "text": f"{TEXTS[n % len(TEXTS)]} #{n}",
        "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 1, "quote_count": 0},
        "author": {
            "id": str(5000 + n),
            "username": f"customer{n}",
            "name": f"Customer {n}",
            "verified": False,
            "public_metrics": {"followers_count": 150},
        },
    }


def _config(tmp: Path, x_url: str, slack_url: str) -> Path:
    path = tmp / "bench.toml"
    path.write_text(
        f"""
[storage]
url = "sqlite:///{tmp / "bench.db"}"
[twitter]
bearer_token = "${{BENCH_X_TOKEN}}"
api_base = "{x_url}"
interval = "1s"
[slack]
token = "${{BENCH_SLACK_TOKEN}}"
channel = "#alerts"
api_base = "{slack_url}"
[alerts]
storm_threshold = 100000
[[brands]]
name = "Aurora Air"
query = '"Aurora Air" OR @AuroraAir'
""",
        encoding="utf-8",
    )
    return path


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))]


def _single_text_scoring_ms() -> float:
    from listener.scoring.factory import build_scorer

    scorer = build_scorer(
        name="listener-sentiment-ml",
        labels={},
        batch_size=32,
        max_length=128,
        quantize=True,
        threads=0,
        cache_dir=None,
    )
    scorer.score(TEXTS)  # warm-up
    runs = []
    for text in TEXTS * 5:
        started = time.perf_counter()
        scorer.score([text])
        runs.append(time.perf_counter() - started)
    return 1000 * statistics.median(runs)


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.001)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=100)
    args = parser.parse_args()
    env = {**os.environ, "BENCH_X_TOKEN": "bench-x-token", "BENCH_SLACK_TOKEN": "xoxb-bench"}
    with (
        tempfile.TemporaryDirectory() as tmp,
        TwitterEmulator(bearer_token="bench-x-token") as x,
        SlackEmulator(token="xoxb-bench", channels=("#alerts",)) as slack,
    ):
        config = _config(Path(tmp), x.base_url, slack.api_url)
        daemon = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "listener",
                "--config",
                str(config),
                "--log-level",
                "WARNING",
                "run",
            ],
            env=env,
        )
        try:
            if not _wait(lambda: len(x.received(SEARCH_PATH)) >= 2, 120):
                raise SystemExit("the daemon did not start polling")
            latencies = []
            for n in range(args.count):
                polls = len(x.received(SEARCH_PATH))
                x.add([_tweet(n)])
                _wait(lambda p=polls: len(x.received(SEARCH_PATH)) > p, 30)
                poll_started = time.monotonic()
                if not _wait(lambda k=n: len(slack.messages) > k, 60):
                    raise SystemExit(f"mention {n}: no Slack message within 60 s")
                latencies.append(slack.messages[n].received_at - poll_started)
        finally:
            daemon.terminate()
            daemon.wait(timeout=60)
    ms = [1000 * v for v in latencies]
    baseline = _single_text_scoring_ms()
    print(
        f"live alert latency, daemon poll -> Slack emulator ({args.count} angry mentions, "
        "bundled model, SQLite):"
    )
    print(f"  p50 {statistics.median(ms):.0f} ms  p95 {_pct(ms, 95):.0f} ms  max {max(ms):.0f} ms")
    print(
        f"  baseline, the model scoring one text: {baseline:.0f} ms "
        f"-> p95 is {_pct(ms, 95) / baseline:.1f}x that"
    )
    print(
        f"  target: p95 <= 1000 ms + scoring time ({1000 + baseline:.0f} ms): "
        f"{'OK' if _pct(ms, 95) <= 1000 + baseline else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
