"""``listener --config FILE alerts list|ack|stats|test`` end to end (App, SQLite, Slack)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener.app import App
from listener.cli import main
from listener.cli.alerts import alerts, percentile
from listener.config import load_settings
from listener.emulators.slack import SlackEmulator
from tests.slack_world import TOKEN, World, make_world

if "alerts" not in main.commands:
    main.add_command(alerts)


@pytest.fixture
def emulator() -> Iterator[SlackEmulator]:
    emu = SlackEmulator(token=TOKEN, channels=["#alerts"]).start()
    yield emu
    emu.stop()


@pytest.fixture
def config(tmp_path: Path, emulator: SlackEmulator) -> Path:
    path = tmp_path / "listener.toml"
    path.write_text(f"""
[storage]
url = "sqlite:///{tmp_path / "listener.db"}"

[slack]
token = "${{SLACK_TOKEN}}"
channel = "#alerts"
api_base = "{emulator.api_url}"

[[brands]]
name = "Aurora Air"
query = '"aurora air"'
handles = ["AuroraAir"]
""")
    return path


@pytest.fixture
def world(config: Path, emulator: SlackEmulator) -> Iterator[World]:
    app = App(load_settings(config, env={"SLACK_TOKEN": TOKEN}))
    app.upgrade()
    yield make_world(app.engine, emulator)
    app.close()


def _cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["--config", str(config), "alerts", *args], env={"SLACK_TOKEN": TOKEN}
    )
    return result.exit_code, result.output


def test_list_shows_every_alert_including_those_folded_into_a_digest(
    config: Path, world: World
) -> None:
    for n in range(1, 13):
        world.angry(n)
    world.alerting.dispatch(world.t0)
    code, out = _cli(config, "list", "--format", "jsonl")
    assert code == 0, out
    records = [json.loads(line) for line in out.splitlines()]
    assert len(records) == 13
    digest = records[0]
    assert (digest["kind"], digest["status"], digest["source"]) == ("digest", "sent", None)
    folded = records[1:]
    assert {r["status"] for r in folded} == {"digested"}
    assert {r["digest_id"] for r in folded} == {digest["id"]}
    assert sorted(int(r["external_id"]) for r in folded) == list(range(1, 13))
    needed = {
        "id",
        "kind",
        "status",
        "brand",
        "source",
        "external_id",
        "created_at",
        "sent_at",
        "acked_at",
        "reason",
    }
    assert needed <= set(folded[0]) and folded[0]["source"] == "replay"
    code, out = _cli(config, "list", "--digest", str(digest["id"]))
    assert code == 0 and out.strip().endswith("12 alerts")
    code, out = _cli(config, "list", "--status", "sent")
    assert code == 0 and "digest" in out and out.strip().endswith("1 alerts")


def test_ack_then_stats_report_response_times(config: Path, world: World) -> None:
    world.angry(1)
    world.angry(2)
    world.alerting.dispatch(world.t0)
    first, _second = sorted(a.id for a in world.outbox.list())
    code, out = _cli(config, "ack", str(first), "--by", "maria")
    assert code == 0 and f"alert {first} handled by maria" in out
    code, out = _cli(config, "list", "--format", "jsonl")
    acked = next(json.loads(line) for line in out.splitlines() if json.loads(line)["id"] == first)
    assert acked["acked_at"] and acked["acked_by"] == "maria"
    code, out = _cli(config, "stats", "--format", "json")
    report = json.loads(out)["Aurora Air"]
    assert report["by_kind"] == {"mention": 2} and report["by_status"] == {"sent": 2}
    assert report["responded"] == 1 and report["p90_response_s"] >= 0
    code, out = _cli(config, "stats")
    assert code == 0 and "Aurora Air: 2 alerts (mention 2); sent 2; first response avg" in out
    code, out = _cli(config, "ack", "9999")
    assert code == 1 and "no alert with id 9999" in out


def test_test_command_posts_a_sample_and_reports_failures_without_secrets(
    config: Path, emulator: SlackEmulator
) -> None:
    code, out = _cli(config, "test")
    assert code == 0 and "test alert sent (#alerts)" in out, out
    (msg,) = emulator.messages
    assert "test alert from listener" in json.dumps(msg.blocks)
    emulator.channels.clear()
    code, out = _cli(config, "test")
    assert code == 1 and "channel_not_found" in out and TOKEN not in out


def test_percentile_is_nearest_rank() -> None:
    assert percentile([10.0], 90) == 10.0
    assert percentile([float(n) for n in range(1, 11)], 90) == 9.0
    assert percentile([1.0, 100.0], 90) == 100.0


def test_an_override_withdraws_a_queued_alert_and_list_shows_it(config: Path, world: World) -> None:
    queued, other = world.angry(1), world.angry(2)
    result = CliRunner().invoke(
        main,
        ["--config", str(config), "override", str(queued.id), "--label", "neutral", "--by", "ana"],
        env={"SLACK_TOKEN": TOKEN},
    )
    assert result.exit_code == 0, result.output
    withdrawn = next(a for a in world.outbox.list() if a.mention_id == queued.id)
    assert f"alert {withdrawn.id}: withdrawn, it will not be sent" in result.output
    world.alerting.dispatch(world.t0)
    assert world.posted() == 1
    code, out = _cli(config, "list")
    assert code == 0
    line = next(row for row in out.splitlines() if row.split()[0] == str(withdrawn.id))
    assert " withdrawn " in line and "[relabelled neutral by ana]" in line
    code, out = _cli(config, "list", "--status", "withdrawn", "--format", "jsonl")
    (record,) = [json.loads(row) for row in out.splitlines()]
    assert (record["id"], record["status"]) == (withdrawn.id, "withdrawn")
    assert record["withdrawn"]["label"] == "neutral" and record["withdrawn"]["by"] == "ana"
    sent = next(a for a in world.outbox.list() if a.mention_id == other.id)
    result = CliRunner().invoke(
        main,
        ["--config", str(config), "override", str(other.id), "--label", "positive"],
        env={"SLACK_TOKEN": TOKEN},
    )
    assert f"alert {sent.id}: sent already, it stays in the alert log" in result.output
    code, out = _cli(config, "stats", "--format", "json")
    assert json.loads(out)["Aurora Air"]["by_status"] == {"sent": 1, "withdrawn": 1}
