"""Every class of config mistake exits 2 with a message naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from listener.cli import main
from listener.config import load_settings

GOOD = """
[storage]
url = "sqlite:///listener.db"

[twitter]
bearer_token = "${TEST_TW_TOKEN}"
interval = "2m"

[[brands]]
name = "Aurora Air"
query = '"aurora air" OR @AuroraAir'
"""

CASES = {
    "missing key": (
        '[twitter]\ninterval = "1m"\n',
        "twitter.bearer_token: required key is missing",
    ),
    "wrong type": (
        '[model]\nbatch_size = "many"\n',
        "model.batch_size: Input should be a valid integer",
    ),
    "unknown key": ('[storage]\nurl = "sqlite://"\npool = 3\n', "storage.pool: unknown key"),
    "bad duration": (
        GOOD.replace('"2m"', '"2 fortnights"'),
        "twitter.interval: expected a duration",
    ),
    "bad url": (
        '[reddit]\nclient_id="a"\nclient_secret="b"\nuser_agent="c"\napi_base="oauth.reddit"\n',
        "reddit.api_base: expected an http(s) URL",
    ),
    "empty query": (
        '[[brands]]\nname = "X"\nquery = "  "\n',
        "brands[0](X).query: must not be empty",
    ),
    "missing env var": (
        GOOD.replace("TEST_TW_TOKEN", "TEST_TW_UNSET"),
        "twitter.bearer_token: environment variable TEST_TW_UNSET is not set",
    ),
    "unbalanced query": (
        '[[brands]]\nname = "X"\nquery = "(aurora air"\n',
        "brands[0](X).query: a '(' is never closed",
    ),
    "query too long for X": (
        GOOD.replace(
            "'\"aurora air\" OR @AuroraAir'", "'" + " OR ".join(f"w{i}" for i in range(130)) + "'"
        ),
        "brands[0](Aurora Air).query: brand 'Aurora Air': query compiles to",
    ),
    "bad toml": ("[storage\nurl=1", "not valid TOML"),
    "slack both ways": (
        '[slack]\ntoken="${TEST_TW_TOKEN}"\nwebhook_url="https://hooks.example/x"\n',
        "set exactly one of slack.token or slack.webhook_url",
    ),
    "duplicate brand": (
        '[[brands]]\nname="A"\nquery="a"\n[[brands]]\nname="a"\nquery="b"\n',
        "brand names must be unique",
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_config_exits_2_naming_file_and_key(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_TW_TOKEN", "s3cr3t-token-value")
    monkeypatch.delenv("TEST_TW_UNSET", raising=False)
    text, expected = CASES[name]
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(path), "check-config"])
    assert result.exit_code == 2, result.output
    assert str(path) in result.output
    assert expected in result.output
    assert "s3cr3t-token-value" not in result.output


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(tmp_path / "nope.toml"), "check-config"])
    assert result.exit_code == 2
    assert "config file not found" in result.output


def test_good_config_expands_secrets_and_resolves_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_TW_TOKEN", "s3cr3t-token-value")
    path = tmp_path / "good.toml"
    path.write_text(GOOD + '\n[replay]\npaths = ["data/*.jsonl"]\n', encoding="utf-8")
    settings = load_settings(path)
    assert settings.storage.url == f"sqlite:///{tmp_path / 'listener.db'}"
    assert settings.twitter is not None
    assert settings.twitter.bearer_token.get_secret_value() == "s3cr3t-token-value"
    assert "s3cr3t" not in repr(settings)
    assert settings.twitter.interval.total_seconds() == 120
    assert settings.replay is not None
    assert settings.replay.paths == [str(tmp_path / "data" / "*.jsonl")]
    result = CliRunner().invoke(main, ["--config", str(path), "check-config"])
    assert result.exit_code == 0, result.output
    assert "1 brands; sources: twitter, replay" in result.output


def test_example_configs_are_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (
        "TWITTER_BEARER_TOKEN",
        "REDDIT_CLIENT_ID",
        "REDDIT_CLIENT_SECRET",
        "SLACK_BOT_TOKEN",
    ):
        monkeypatch.setenv(var, "placeholder-value")
    configs = sorted(Path("config").glob("*.toml"))
    assert configs
    for path in configs:
        load_settings(path)
