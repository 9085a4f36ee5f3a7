"""Every class of config mistake exits 2 with a message naming the file and the key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from listener.cli import main
from listener.config import load_settings, parse_settings
from listener.errors import ConfigError

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
    "huge duration": (
        GOOD.replace('"2m"', '"9999999d"'),
        "twitter.interval: expected at most 3650d, got '9999999d'",
    ),
    "infinite duration": (GOOD.replace('"2m"', "inf"), "twitter.interval: expected at most"),
    "huge integer duration": (GOOD.replace('"2m"', "9" * 40), "twitter.interval: expected at most"),
    "non-numeric port": (
        '[storage]\nurl = "postgresql+psycopg://u:pw@db.example:abc/listener"\n',
        "storage.url: the port must be a number",
    ),
    "unsupported database": (
        '[storage]\nurl = "mysql://u@db.example/listener"\n',
        "storage.url: mysql:// is not supported",
    ),
    "deeply nested toml": (
        "x = " + "[" * 1200 + "1" + "]" * 1200 + "\n",
        "arrays or tables nest too deeply",
    ),
    "nested toml": ("x = " + "[" * 30 + "1" + "]" * 30 + "\n", "nested more than 16 levels"),
    "deeply nested query": (
        '[[brands]]\nname = "X"\nquery = "' + "(" * 250 + "a" + ")" * 250 + '"\n',
        "brands[0](X).query: groups and negations nest more than 50 deep",
    ),
    "secret in a field that is not a secret": (
        GOOD + '[model]\nbatch_size = "${TEST_TW_TOKEN}"\n',
        "model.batch_size: Input should be a valid integer, unable to parse string as an "
        "integer (got '${TEST_TW_TOKEN}')",
    ),
    "secret in a duration": (
        GOOD.replace('"2m"', '"${TEST_TW_TOKEN}"'),
        "twitter.interval: expected a duration",
    ),
    "query that X cannot search": (
        GOOD.replace("'\"aurora air\" OR @AuroraAir'", "'aurora\\\"air'"),
        "brand 'Aurora Air': query: 'aurora\"air' has a double quote",
    ),
    "bad language code": (
        GOOD + 'languages = ["en", "e n"]\n',
        "brands[0](Aurora Air).languages[1]: expected a language code",
    ),
    "home of no such user": (
        '[replay]\npaths = ["~no_such_user_here/x.jsonl"]\n',
        "replay.paths[0]: cannot expand '~' in '~no_such_user_here/x.jsonl'",
    ),
    "number too long for toml": (
        "x = " + "9" * 5000 + "\n",
        "not valid TOML: a number is too long",
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
    assert result.output.count("\n") == 1, result.output  # one line
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


def _uncommented(text: str) -> str:
    """``text`` with its commented-out TOML lines (``# key = value``, ``# [table]``) turned on;
    prose comments stay comments."""
    lines = []
    for line in text.splitlines():
        body = line.removeprefix("# ")
        try:
            tomllib.loads(body)
        except tomllib.TOMLDecodeError:
            body = line
        lines.append(body)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", ["example.toml", "production.toml"])
def test_the_commented_examples_in_the_configs_are_valid(tmp_path: Path, name: str) -> None:
    text = (Path(__file__).parent.parent / "config" / name).read_text(encoding="utf-8")
    path = tmp_path / name
    path.write_text(_uncommented(text), encoding="utf-8")
    env = {"LISTENER_DASHBOARD_TOKEN": "x" * 24, "SLACK_BOT_TOKEN": "xoxb-placeholder"}
    env |= {"TWITTER_BEARER_TOKEN": "t", "REDDIT_CLIENT_ID": "i", "REDDIT_CLIENT_SECRET": "s"}
    settings = load_settings(path, env=env)
    assert settings.reports.every == "weekly"
    aurora = settings.brands[0]
    assert aurora.competitors == ["Nordlys Mobile"]
    assert (settings.report_for(aurora).every, settings.report_for(aurora).hour) == ("daily", 7)


def _checked(tmp_path: Path, text: str) -> tuple[int, str]:
    path = tmp_path / "check.toml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(path), "check-config"])
    return result.exit_code, result.output


REPLAY = '[replay]\npaths = ["data/*.jsonl"]\n[[brands]]\nname = "A"\nquery = "a"\n'


def test_check_config_needs_brands_and_a_source(tmp_path: Path) -> None:
    code, output = _checked(tmp_path, '[storage]\nurl = "sqlite:///x.db"\n')
    assert code == 2
    assert "no [[brands]]: nothing to listen for" in output
    assert "no source: add a [sources.KIND] section (installed kinds: " in output
    assert all(kind in output for kind in ("twitter", "reddit", "replay"))
    code, output = _checked(tmp_path, '[[brands]]\nname = "A"\nquery = "a"\n')
    assert code == 2 and "no source" in output and "no [[brands]]" not in output


def test_check_config_connects_to_the_database(tmp_path: Path, pg_url: str) -> None:
    code, output = _checked(tmp_path, f'[storage]\nurl = "{pg_url}"\n{REPLAY}')
    assert code == 0, output
    assert "(reachable)" in output and "1 brands; sources: replay" in output

    unreachable = "postgresql+psycopg://listener:pw-not-shown@127.0.0.1:9/listener"
    code, output = _checked(tmp_path, f'[storage]\nurl = "{unreachable}"\n{REPLAY}')
    assert code == 1, output
    assert output.startswith("error: database unreachable at postgresql+psycopg://listener:***@")
    assert "pw-not-shown" not in output and output.count("\n") == 1

    code, output = _checked(tmp_path, REPLAY)  # SQLite: checked, not created
    assert code == 0, output
    assert "listener.db (created on first use)" in output
    assert not (tmp_path / "listener.db").exists()

    (tmp_path / "damaged.db").write_text("not a database", encoding="utf-8")
    code, output = _checked(tmp_path, f'[storage]\nurl = "sqlite:///damaged.db"\n{REPLAY}')
    assert code == 1 and "database file is damaged" in output, output

    code, output = _checked(tmp_path, f'[storage]\nurl = "sqlite:///check.toml/x.db"\n{REPLAY}')
    assert code == 1 and "check.toml is not a folder" in output, output


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[model]\nbatch_size = "${SECRET}"\n', "model.batch_size"),
        ('[alerts]\nmax_age = "${SECRET}"\n', "alerts.max_age"),
        ('[alerts]\nmax_age = "1x${SECRET}"\n', "alerts.max_age"),
        ('[[brands]]\nname = "A"\nquery = "(${SECRET}"\n', "brands[0](A).query"),
        ('[storage]\nurl = "mysql://u:${SECRET}@db/x"\n', "storage.url"),
        ('[twitter]\nbearer_token = "x"\napi_base = "${SECRET}"\n', "twitter.api_base"),
    ],
)
def test_values_from_the_environment_are_never_echoed(text: str, key: str) -> None:
    """The loader itself hides them (the CLI's log scrubber only knows secret fields)."""
    with pytest.raises(ConfigError) as info:
        parse_settings(text, file="c.toml", env={"SECRET": "hunter2-not-for-eyes"})
    message = str(info.value)
    assert message.startswith(f"c.toml: {key}: ")
    assert "hunter2" not in message
