"""CLI commands over a real SQLite file: db upgrade, export, logging and secret redaction."""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Engine

from listener.cli import main
from listener.demo import run_demo
from listener.domain import Batch, Score
from listener.emulators.base import Fault
from listener.emulators.corpus import sample_path
from listener.emulators.reddit import RedditEmulator
from listener.emulators.twitter import TwitterEmulator
from listener.logs import JsonFormatter, RedactingFilter, register_secrets
from listener.store.db import connect
from listener.store.schema import metadata
from listener.store.sql import SqlStore
from tests.factories import QUERY, T0, mention, sentiment


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f"""
[storage]
url = "sqlite:///{tmp_path / "db.sqlite"}"
[[brands]]
name = "Aurora Air"
query = "aurora"
""",
        encoding="utf-8",
    )
    return path


def test_migrations_produce_exactly_the_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    config = _config(tmp_path)
    for _ in range(2):
        result = CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert f"database at revision {_head()}" in result.output


def _head() -> str | None:
    from alembic.script import ScriptDirectory

    from listener.store.db import MIGRATIONS

    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def test_export_jsonl_and_csv(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    store = SqlStore(connect(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    hebrew = 'שירות גרוע, "ממש" גרוע,\nשורה שנייה'
    store.add_batch(
        "replay", QUERY, Batch(mentions=[mention(1, text=hebrew, lang="he"), mention(2)])
    )
    first = store.unscored("m@1", 1)[0]
    store.add_scores(
        [Score(mention_id=first.id, model="m@1", sentiment=sentiment(anger=0.7), scored_at=T0)]
    )

    result = CliRunner().invoke(main, ["--config", str(config), "export", "--brand", "aurora air"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["external_id"] for r in rows] == ["1", "2"]
    assert rows[0]["text"] == hebrew
    assert rows[0]["probabilities"] == {"negative": 0.8, "neutral": 0.1, "positive": 0.1}
    assert (rows[0]["label"], rows[0]["anger"], rows[0]["lang"]) == ("negative", 0.7, "en")
    assert rows[1]["label"] is None and rows[1]["probabilities"] is None

    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(config),
            "export",
            "--brand",
            "Aurora Air",
            "--format",
            "csv",
            "--since",
            "100000d",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["text"] for r in table] == [hebrew, "mention 2 of aurora air"]
    assert table[0]["negative"] == "0.8"

    result = CliRunner().invoke(
        main, ["--config", str(config), "export", "--brand", "x", "--since", "soon"]
    )
    assert result.exit_code == 2
    assert "expected a duration" in result.output


def test_unknown_brand_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--config", str(_config(tmp_path)), "export", "--brand", "Nope"]
    )
    assert result.exit_code == 2
    assert "no brand named 'Nope'" in result.output


def test_json_logs_redact_registered_secrets(caplog: pytest.LogCaptureFixture) -> None:
    register_secrets("xoxb-very-secret-token")
    record = logging.LogRecord(
        "listener.x",
        logging.ERROR,
        __file__,
        1,
        "posting with %s failed",
        ("xoxb-very-secret-token",),
        None,
    )
    assert RedactingFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "posting with *** failed"
    assert line["level"] == "error" and line["logger"] == "listener.x"


# --- every error crossing the CLI boundary is one line (exit 2: config/usage, 1: runtime) ---

UNREACHABLE = "postgresql+psycopg://listener@127.0.0.1:9/nowhere"


def _one_line_error(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert "Traceback" not in output
    return lines[0]


@pytest.mark.parametrize(
    "command",
    [["once"], ["run"], ["export", "--brand", "Aurora Air"], ["alerts", "list"], ["db", "upgrade"]],
)
def test_unreachable_database_is_one_line_exit_1(tmp_path: Path, command: list[str]) -> None:
    config = _config(tmp_path)
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            f"sqlite:///{tmp_path / 'db.sqlite'}", UNREACHABLE
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["--config", str(config), *command])
    assert result.exit_code == 1, result.output
    line = _one_line_error(result.output)
    assert line.startswith("error: database unreachable at " + UNREACHABLE)


def test_an_unexpected_exception_is_one_line_exit_1(tmp_path: Path) -> None:
    @click.command("boom")
    def boom() -> None:
        raise RecursionError("maximum recursion depth exceeded\nsecond line")

    main.add_command(boom)
    try:
        result = CliRunner().invoke(main, ["boom"])
    finally:
        main.commands.pop("boom")
    assert result.exit_code == 1
    line = _one_line_error(result.output)
    assert line.startswith("error: unexpected RecursionError: maximum recursion depth exceeded")


def test_huge_durations_are_config_errors_before_anything_starts(tmp_path: Path) -> None:
    config = _config(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(text + '[replay]\npaths = ["x.jsonl"]\ninterval = "9999999d"\n')
    for command in (["check-config"], ["run"], ["once"]):
        result = CliRunner().invoke(main, ["--config", str(config), *command])
        assert result.exit_code == 2, result.output
        line = _one_line_error(result.output)
        assert "replay.interval: expected at most 3650d, got '9999999d'" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["export", "--brand", "Aurora Air", "--since", "9999999d"], "expected at most"),
        (["export", "--brand", "Aurora Air", "--since", "999999d"], "before the year 1"),
        (["alerts", "ack", str(2**64)], "is not in the range"),
        (["alerts", "list", "--limit", "-1"], "is not in the range"),
    ],
)
def test_out_of_range_options_are_usage_errors(
    tmp_path: Path, args: list[str], expected: str
) -> None:
    result = CliRunner().invoke(main, ["--config", str(_config(tmp_path)), *args])
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output


# --- `once` says when nothing could be collected ---


@pytest.fixture()
def failing_sources() -> Iterator[tuple[TwitterEmulator, RedditEmulator]]:
    x = TwitterEmulator.from_jsonl(sample_path("twitter.jsonl"), bearer_token="x-token")
    reddit = RedditEmulator.from_jsonl(
        sample_path("reddit.jsonl"), client_id="r-id", client_secret="r-secret"
    )
    with x, reddit:
        x.inject(Fault(status=503, body=b"{}", times=10_000))
        yield x, reddit


def _sources_config(
    tmp_path: Path, model: Path, x: TwitterEmulator, reddit: RedditEmulator, *, secret: str
) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(
        f"""
[storage]
url = "sqlite:///{tmp_path / "db.sqlite"}"
[model]
name = "{model}"
quantize = false
[twitter]
bearer_token = "x-token"
api_base = "{x.base_url}"
[reddit]
client_id = "r-id"
client_secret = "{secret}"
user_agent = "listener-tests"
api_base = "{reddit.base_url}"
auth_base = "{reddit.base_url}"
[[brands]]
name = "Aurora Air"
query = '"aurora air"'
subreddits = ["travel"]
""",
        encoding="utf-8",
    )
    return path


def test_once_exits_1_when_no_source_could_be_read(
    tmp_path: Path,
    tiny_model_dir: Path,
    failing_sources: tuple[TwitterEmulator, RedditEmulator],
) -> None:
    x, reddit = failing_sources  # X answers 503; Reddit rejects the wrong secret
    config = _sources_config(tmp_path, tiny_model_dir, x, reddit, secret="wrong-secret")
    result = CliRunner().invoke(main, ["--config", str(config), "once"])
    assert result.exit_code == 1, result.output
    assert "collect.errors=2" in result.stdout
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("error: no source could be read: collect:twitter:Aurora Air: ")
    assert "collect:reddit:Aurora Air: auth: " in error
    assert "wrong-secret" not in result.output

    result = CliRunner().invoke(main, ["--config", str(config), "once"])
    assert result.exit_code == 1, result.output  # X backs off, Reddit still fails
    assert "collect:twitter:Aurora Air: backing off until " in result.stderr

    config = _sources_config(tmp_path, tiny_model_dir, x, reddit, secret="r-secret")
    result = CliRunner().invoke(main, ["--config", str(config), "once"])
    assert result.exit_code == 0, result.output  # Reddit collected: not every source failed
    assert "collect.skipped=1" in result.stdout and "collect.added=" in result.stdout


# --- the demo: a newcomer's first run warns of nothing ---


def test_the_demo_runs_two_cycles_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The second cycle polls X with the since_id of the first: the sample's ids moved to now
    with their tweets, so X takes it (no "older than 7 days" reset) and no job warns."""
    caplog.set_level(logging.INFO)
    lines: list[str] = []
    assert run_demo(tmp_path / "demo", lines.append) == 0
    assert any("an angry customer posts now; the next cycle" in line for line in lines)
    polls = [r for r in caplog.records if r.getMessage().startswith("job collect:twitter:")]
    assert len(polls) == 4, [r.getMessage() for r in polls]
    warned = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.WARNING]
    assert warned == []


# --- the demo's follow-up commands work from a new shell ---


def test_demo_config_works_on_its_own_after_the_demo(tmp_path: Path) -> None:
    """README: after `listener demo`, `alerts list` and the ack command printed in the demo's
    Slack message work on listener-demo/demo.toml from another shell (no demo variables)."""
    lines: list[str] = []
    assert run_demo(tmp_path / "demo", lines.append) == 0
    config = tmp_path / "demo" / "demo.toml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LISTENER_DEMO_")}

    def listener(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "listener", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    listed = listener("--config", str(config), "alerts", "list")
    assert listed.returncode == 0, listed.stderr
    assert "Nordlys Mobile" in listed.stdout
    acks = [m.group(1) for line in lines if (m := re.search(r"ack: `(listener [^`]+)`", line))]
    assert acks, "\n".join(lines)
    acked = listener(*shlex.split(acks[-1])[1:], "--by", "demo-test")
    assert acked.returncode == 0, acked.stderr
    assert "handled by demo-test" in acked.stdout
    assert f"listener --config {config} alerts list" in "\n".join(lines)
