"""/metrics and /healthz: scraped over HTTP on 127.0.0.1 while `listener run` works against the
X and Slack emulators (real tweepy and slack-sdk clients); the outbox gauges on SQLite and
PostgreSQL; the health rules with a fake clock."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, func, select

from listener.app import App
from listener.cli import main
from listener.config import parse_settings
from listener.domain import NewAlert, utcnow
from listener.emulators.base import Fault
from listener.emulators.corpus import sample_path
from listener.emulators.slack import SlackEmulator
from listener.emulators.twitter import SEARCH_PATH, TwitterEmulator
from listener.ops.health import Health
from listener.ops.server import OpsServer
from listener.store.db import connect, upgrade
from listener.store.outbox import SqlOutbox
from listener.store.schema import mentions

BRAND = "Aurora Air"
X_TOKEN, SLACK_TOKEN = "ops-x-token-123", "xoxb-ops-token-456"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def _samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.fixture()
def apis() -> Iterator[tuple[TwitterEmulator, SlackEmulator]]:
    x = TwitterEmulator.from_jsonl(sample_path("twitter.jsonl"), bearer_token=X_TOKEN)
    slack = SlackEmulator(token=SLACK_TOKEN)
    with x, slack:
        yield x, slack


def test_daemon_serves_metrics_and_health_over_http(
    tmp_path: Path, tiny_model_dir: Path, apis: tuple[TwitterEmulator, SlackEmulator]
) -> None:
    x, slack = apis
    db = tmp_path / "ops.db"
    config = tmp_path / "ops.toml"
    config.write_text(
        f"""
[storage]
url = "sqlite:///{db}"
[model]
name = "{tiny_model_dir}"
quantize = false
[twitter]
bearer_token = "${{OPS_X}}"
api_base = "{x.base_url}"
interval = "1s"
[slack]
token = "${{OPS_SLACK}}"
channel = "#alerts"
api_base = "{slack.api_url}"
[jobs.dispatch]
interval = "1s"
[ops]
unhealthy_after = "2s"
[[brands]]
name = "{BRAND}"
query = '("Aurora Air" OR @AuroraAir OR AuroraAir) -purifier -borealis'
""",
        encoding="utf-8",
    )
    engine = connect(f"sqlite:///{db}")
    upgrade(engine)
    spike = NewAlert(kind="spike", brand=BRAND, dedupe_key="ops-1", reason="test", details={})
    SqlOutbox(engine).add_alerts([spike])  # one alert for the dispatch job to send

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OPS_X": X_TOKEN, "OPS_SLACK": SLACK_TOKEN}
    started = time.time()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "listener",
            "--config",
            str(config),
            "run",
            "--metrics-port",
            f"{port}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        samples: Samples = {}
        health: tuple[int, str] = (0, "")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.5)
            try:
                health = _get(f"{base}/healthz")
                samples = _samples(_get(f"{base}/metrics")[1])
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.communicate()[1]
                continue
            key = {"source": "twitter", "brand": BRAND}
            collected = _value(samples, "listener_mentions_collected_total", **key) or 0
            scored = _value(samples, "listener_mentions_scored_total", **key) or 0
            sent = _value(samples, "listener_alerts_total", outcome="sent") or 0
            if health[0] == 200 and collected > 0 and scored >= collected and sent >= 1:
                break
        else:
            pytest.fail(f"never healthy with work done: {health} {samples}")
        assert json.loads(health[1]) == {"status": "ok", "reasons": []}

        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(mentions)).scalar_one()
        assert collected == stored > 10
        assert _value(samples, "listener_alerts_raised_total", kind="mention") is not None
        assert _value(samples, "listener_outbox_alerts", status="failed") == 0
        assert _value(samples, "listener_outbox_alerts", status="pending") is not None
        assert _value(samples, "listener_outbox_oldest_pending_age_seconds") is not None
        assert _value(samples, "listener_database_up") == 1
        assert (_value(samples, "listener_model_load_seconds") or 0) > 0
        job = "collect:twitter:Aurora Air"
        assert (_value(samples, "listener_job_duration_seconds_count", job="score") or 0) >= 1
        assert (_value(samples, "listener_job_runs_total", job=job, outcome="ok") or 0) >= 1
        assert (_value(samples, "listener_job_last_success_timestamp_seconds", job=job) or 0) > (
            started
        )
        last = _value(samples, "listener_source_last_success_timestamp_seconds", **key)
        assert last is not None and last > started
        assert len(slack.messages) >= 1

        # X goes down: the source backs off, and /healthz says which job and why
        x.inject(Fault(path_prefix=SEARCH_PATH, status=503, body=b"{}", times=10_000))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and health[0] != 503:
            time.sleep(0.5)
            health = _get(f"{base}/healthz")
        assert health[0] == 503, health
        body = json.loads(health[1])
        assert body["status"] == "unhealthy"
        (reason,) = body["reasons"]
        assert reason.startswith(f"job {job}: no success for") and "503" in reason
        errors = _samples(_get(f"{base}/metrics")[1])
        assert (_value(errors, "listener_job_runs_total", job=job, outcome="error") or 0) >= 1
        for text in (health[1], _get(f"{base}/metrics")[1]):
            assert X_TOKEN not in text and SLACK_TOKEN not in text
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"metrics on http://127.0.0.1:{port}/metrics" in err
    with pytest.raises(urllib.error.URLError):
        _get(f"{base}/healthz")  # the endpoint went away with the daemon
    engine.dispose()


def test_outbox_gauges_read_the_database(engine: Engine, tmp_path: Path) -> None:
    url = engine.url.render_as_string(hide_password=False)
    settings = parse_settings(f'[storage]\nurl = "{url}"\n[[brands]]\nname = "A"\nquery = "a"\n')
    with App(settings) as app:
        old = utcnow() - timedelta(minutes=30)
        app.outbox.add_alerts(
            [NewAlert(kind="spike", brand="A", dedupe_key=f"k{n}", reason="r", details={})
             for n in range(3)],
            now=old,
        )  # fmt: skip
        failed = app.outbox.list()[0].id
        claim = app.outbox.claim(failed, now=utcnow(), lease=timedelta(seconds=30))
        assert claim
        app.outbox.mark_failed(claim, error="channel_not_found")
        server = OpsServer(
            registry=app.metrics.registry,
            health=Health(stale_after=timedelta(minutes=5)),
            host="127.0.0.1",
            port=0,
        ).start()
        try:
            status, text = _get(f"http://127.0.0.1:{server.port}/metrics")
            missing = _get(f"http://127.0.0.1:{server.port}/nope")[0]
        finally:
            server.close()
    assert status == 200 and missing == 404
    samples = _samples(text)
    assert _value(samples, "listener_outbox_alerts", status="pending") == 2
    assert _value(samples, "listener_outbox_alerts", status="failed") == 1
    age = _value(samples, "listener_outbox_oldest_pending_age_seconds") or 0
    assert 1700 < age < 1900
    assert _value(samples, "listener_database_up") == 1


def test_outbox_gauges_say_when_the_database_is_down(tmp_path: Path) -> None:
    settings = parse_settings(
        '[storage]\nurl = "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"\n'
    )
    with App(settings) as app:
        text = generate_latest(app.metrics.registry).decode("utf-8")
    samples = _samples(text)
    assert _value(samples, "listener_database_up") == 0
    assert _value(samples, "listener_outbox_alerts", status="pending") is None


def test_metrics_port_in_use_is_one_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n[[brands]]\nname = "A"\n'
        'query = "a"\n',
        encoding="utf-8",
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["--config", str(config), "run", "--metrics-port", str(port)]
        )
    assert result.exit_code == 2
    assert f"ops.metrics_port: cannot listen on 127.0.0.1:{port}" in result.stderr


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_health_rules() -> None:
    clock = _Clock()
    health = Health(stale_after=timedelta(minutes=5), clock=clock)
    health.track("score", timedelta(seconds=30))
    health.track("collect:twitter:A", timedelta(minutes=4))
    assert health.check() == (False, ["scheduler not running"])
    health.attach(lambda: True)
    assert health.check() == (True, [])

    clock.now += timedelta(minutes=6)  # score: allowance 5m; collect: 3 x 4m = 12m
    health.record("score", outcome="error", error="StoreError: database is locked")
    ok, reasons = health.check()
    assert not ok
    assert reasons == [
        "job score: no success since start, 6m (allowed 5m); last error: StoreError: "
        "database is locked"
    ]
    health.record("score", outcome="ok")
    assert health.check() == (True, [])

    clock.now += timedelta(minutes=13)
    health.record("collect:twitter:A", outcome="skipped")  # in backoff: not a success
    health.record("score", outcome="ok")
    ok, reasons = health.check()
    assert not ok and reasons == [
        "job collect:twitter:A: no success since start, 19m (allowed 12m)"
    ]
