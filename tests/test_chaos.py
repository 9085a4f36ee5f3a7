"""The chaos run in small (``scripts/chaos.py``: 300 mentions published to the X, Reddit,
Bluesky and Mastodon emulators, the real daemon SIGKILLed 3 times, every fault kind once), on
SQLite and PostgreSQL: nothing lost or stored twice, every mention scored, every mention the
alert rule fires on in Slack, and a Slack post repeated only where a kill landed between
Slack's answer and the commit."""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType

import pytest

from listener.collectors.twitter import TwitterCollector
from listener.emulators.twitter import SEARCH_PATH, TwitterEmulator
from listener.errors import ListenerError
from tests.factories import QUERY

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "chaos.py"


def _chaos() -> ModuleType:
    spec = importlib.util.spec_from_file_location("listener_chaos_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_chaos_run_loses_duplicates_and_misses_nothing(
    db: str, request: pytest.FixtureRequest, tmp_path: Path, tiny_model_dir: Path
) -> None:
    if db == "postgresql":
        request.getfixturevalue("pg_url")  # skips without PostgreSQL (fails when CI is set)
    chaos = _chaos()
    lines: list[str] = []
    report = chaos.run(
        chaos.Options(
            db=db,
            mentions=300,
            kills=3,
            seed=11,
            model="tiny",
            tiny_dir=tiny_model_dir,
            workdir=tmp_path,
            publish_seconds=10,
            drain_timeout=120,
            echo=lines.append,
        )
    )
    out = "\n".join(lines)
    assert report.generated == 300 and report.kills == 3, out
    assert set(report.faults) == set(chaos.FAULTS), out
    assert report.drained and not report.crashes and report.final_exit == 0, out
    assert report.lost == 0 and report.duplicated == 0 and report.phantoms == 0, out
    assert report.missing_scores == 0, out
    assert report.fired > 0 and report.missed == 0, out
    assert report.slack_duplicates <= report.window_kills, out


def test_first_polls_at_once_all_reach_the_configured_host() -> None:
    """Found by the chaos run: the daemon starts every brand's X poll at once, and one of them
    could take the tweepy client before its session (``twitter.api_base`` and the timeout) was
    put in: that request went to api.twitter.com, without a timeout. Measured before the fix:
    SourceUnavailable "X API unreachable ... host='api.twitter.com'" in the first rounds."""
    with TwitterEmulator(bearer_token="chaos-x") as x:
        previous = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # threads switch as often as they can: the race shows
        try:
            for _ in range(20):
                collector = TwitterCollector(bearer_token="chaos-x", api_base=x.base_url)
                assert _first_polls_at_once(collector, 4) == []
        finally:
            sys.setswitchinterval(previous)
    assert len(x.received(SEARCH_PATH)) == 80


def _first_polls_at_once(collector: TwitterCollector, count: int) -> list[str]:
    start, errors = threading.Barrier(count), []

    def poll() -> None:
        start.wait()
        try:
            collector.collect(QUERY, None)
        except ListenerError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=poll) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return errors
