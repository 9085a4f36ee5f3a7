"""The daemon and the run-once mode, as real processes: idempotent reruns, SIGKILL mid-run loses
and duplicates nothing, SIGTERM finishes the running job and exits 0, a failing job is isolated."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from listener.daemon import Job, run_job
from listener.store.schema import mentions, scores

LANG_TEXTS = [
    "Aurora Air lost my bag, furious!",
    "Aurora Air zgubiła bagaż, skandal!",
    "Aurora Air apkalpe bija jauka",
    "Aurora Air vėlavo dvi valandas",
    "Zelo zadovoljen z Aurora Air",
    "Aurora Air איבדו את המזוודה",
]


def _write_config(tmp_path: Path, model_dir: Path, *, lines: int) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    with (data / "mentions.jsonl").open("w", encoding="utf-8") as handle:
        for n in range(lines):
            item = {
                "id": f"m{n}",
                "text": f"{LANG_TEXTS[n % 6]} #{n}",
                "author": f"u{n % 50}",
                "created_at": f"2026-11-20T{n % 24:02d}:{n % 60:02d}:00Z",
            }
            if n % 10 == 9:
                item["text"] = f"unrelated chatter {n}"
            handle.write(json.dumps(item, ensure_ascii=False) + "\n")
        handle.write("{this line is broken\n")
    config = tmp_path / "listener.toml"
    config.write_text(
        f"""
[storage]
url = "sqlite:///{tmp_path / "listener.db"}"
[model]
name = "{model_dir}"
quantize = false
batch_size = 16
[replay]
paths = ["data/*.jsonl"]
interval = "1s"
[jobs.score]
interval = "1s"
batch_size = 64
[[brands]]
name = "Aurora Air"
query = '"aurora air"'
""",
        encoding="utf-8",
    )
    return config


def _listener(config: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "listener", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _counts(tmp_path: Path) -> tuple[int, int, int]:
    engine = create_engine(f"sqlite:///{tmp_path / 'listener.db'}")
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(mentions)).scalar_one()
        distinct = conn.execute(
            select(func.count(func.distinct(mentions.c.external_id)))
        ).scalar_one()
        scored = conn.execute(select(func.count()).select_from(scores)).scalar_one()
        conn.execute(text("SELECT 1"))
    engine.dispose()
    return total, distinct, scored


def test_once_twice_then_nothing_new(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _write_config(tmp_path, tiny_model_dir, lines=60)
    first = _listener(config, "once")
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert "collect.added=54" in out and "collect.quarantined=1" in out and "score.scored=54" in out
    second = _listener(config, "once")
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert "collect.added=0" in out and "score.scored=0" in out
    assert _counts(tmp_path) == (54, 54, 54)


def test_sigkill_mid_run_loses_and_duplicates_nothing(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _write_config(tmp_path, tiny_model_dir, lines=4000)
    interrupted = 0
    for delay in (1.5, 2.5, 3.5, 4.5):
        proc = _listener(config, "once")
        time.sleep(delay)
        if proc.poll() is None:
            interrupted += 1
        proc.kill()
        proc.wait(timeout=30)
    assert interrupted >= 1, "no run was killed mid-way; the test proves nothing"
    for _ in range(5):
        proc = _listener(config, "once")
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        if "collect.added=0" in out and "score.scored=0" in out:
            break
    expected = 4000 - 400  # every tenth line does not mention the brand
    assert _counts(tmp_path) == (expected, expected, expected)


def test_sigterm_finishes_and_exits_zero(tmp_path: Path, tiny_model_dir: Path) -> None:
    config = _write_config(tmp_path, tiny_model_dir, lines=30)
    proc = _listener(config, "run")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _safe_counts(tmp_path)[2] < 27:
        time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "finishing running jobs" in err
    assert _counts(tmp_path) == (27, 27, 27)


def _safe_counts(tmp_path: Path) -> tuple[int, int, int]:
    try:
        return _counts(tmp_path)
    except Exception:
        return (0, 0, 0)


def test_a_failing_job_is_logged_and_contained(caplog: pytest.LogCaptureFixture) -> None:
    def boom() -> None:
        raise RuntimeError("exploded")

    from datetime import timedelta

    caplog.set_level(logging.INFO)
    assert run_job(Job(id="bad", func=boom, interval=timedelta(seconds=1), stage="x")) is None
    assert run_job(
        Job(id="good", func=lambda: {"n": 3}, interval=timedelta(seconds=1), stage="x")
    ) == {"n": 3}
    messages = [r.getMessage() for r in caplog.records]
    assert any("job bad failed after" in m and "RuntimeError: exploded" in m for m in messages)
    assert any(m.startswith("job good done in") and "n=3" in m for m in messages)


def test_chain_wakes_the_next_stage_and_reruns_a_busy_one() -> None:
    from datetime import timedelta

    from listener.daemon import Chain
    from listener.pipeline import CollectResult, ScoreResult

    woken: list[str] = []
    chain = Chain(woken.append)
    interval = timedelta(seconds=60)

    def collected(added: int) -> CollectResult:
        return CollectResult(source="x", brand="a", added=added)

    score = Job(
        id="score",
        func=lambda: ScoreResult(alerts=2),
        interval=interval,
        stage="score",
        then="dispatch",
    )
    chain(
        Job(
            id="collect:x:a",
            func=lambda: collected(3),
            interval=interval,
            stage="collect",
            then="score",
        )
    )
    assert woken == ["score"]
    chain(
        Job(
            id="collect:x:b",
            func=lambda: collected(0),
            interval=interval,
            stage="collect",
            then="score",
        )
    )
    assert woken == ["score"]  # nothing new stored: nothing to wake
    chain(
        Job(
            id="untyped",
            func=lambda: {"added": 3},
            interval=interval,
            stage="collect",
            then="score",
        )
    )
    assert woken == ["score"]  # only a typed result says it produced work

    def busy_score() -> ScoreResult:
        chain.wake("score")
        assert woken == ["score"]  # not woken while running...
        return ScoreResult(alerts=1)

    chain(Job(id="score", func=busy_score, interval=interval, stage="score", then="dispatch"))
    assert woken == ["score", "dispatch", "score"]  # ...but right after it ends
    chain(score)
    assert woken[-1] == "dispatch"


def test_sigterm_while_a_job_wakes_the_next_one_still_exits(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    """SIGTERM while the first collect is storing mentions (when it ends it wakes the score job).
    Measured before the fix: the daemon never exited (APScheduler's shutdown held its job-store
    lock while it waited for the collect job, whose wake-up of the score job waited for it)."""
    config = _write_config(tmp_path, tiny_model_dir, lines=10_000)
    log = tmp_path / "daemon.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "listener", "--config", str(config), "run"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + 120
    while "listener running" not in log.read_text(encoding="utf-8"):
        assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
        time.sleep(0.02)
    time.sleep(0.2)  # the collect job of 10,000 lines is under way
    proc.send_signal(signal.SIGTERM)
    try:
        status = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        pytest.fail("still running 60 s after SIGTERM:\n" + log.read_text(encoding="utf-8"))
    text_ = log.read_text(encoding="utf-8")
    assert status == 0, text_
    assert "added=" in text_ and "listener stopped" in text_
