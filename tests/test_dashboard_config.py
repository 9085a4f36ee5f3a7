"""[dashboard]: defaults, the token from the environment, and no exposed dashboard without it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from listener.cli import main
from listener.config import is_loopback, parse_settings
from listener.errors import ConfigError

TOKEN = "from-the-environment-0123456789"


def test_old_configs_without_the_section_get_the_defaults() -> None:
    settings = parse_settings('[[brands]]\nname = "A"\nquery = "a"\n')
    assert settings.dashboard.host == "127.0.0.1"
    assert settings.dashboard.port == 8050
    assert settings.dashboard.token is None


def test_the_token_comes_from_the_environment() -> None:
    text = '[dashboard]\nhost = "0.0.0.0"\nport = 9000\ntoken = "${DASH_TOKEN}"\n'
    settings = parse_settings(text, env={"DASH_TOKEN": TOKEN})
    assert settings.dashboard.token is not None
    assert settings.dashboard.token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings)
    with pytest.raises(ConfigError, match="environment variable DASH_TOKEN is not set"):
        parse_settings(text, env={})


def test_binding_beyond_loopback_needs_a_token() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings('[dashboard]\nhost = "0.0.0.0"\n', file="c.toml")
    assert "c.toml: dashboard" in str(caught.value)
    assert "'0.0.0.0' is reachable from other machines: set dashboard.token" in str(caught.value)
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.5"):
        assert parse_settings(f'[dashboard]\nhost = "{host}"\n').dashboard.host == host


def test_a_short_token_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings('[dashboard]\ntoken = "${T}"\n', env={"T": "short-tok"})
    assert "dashboard.token: must be at least 16 characters" in str(caught.value)
    assert "short-tok" not in str(caught.value)


def test_loopback_hosts() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("[::1]")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    assert not is_loopback("dashboard.example.com")


def test_cli_refuses_an_exposed_host_without_a_token(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n'
        '[[brands]]\nname = "A"\nquery = "a"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(
        main, ["--config", str(config), "dashboard", "--host", "0.0.0.0", "--port", "0"]
    )
    assert result.exit_code == 2
    assert "--host 0.0.0.0: the dashboard would be reachable from other machines" in result.output
    assert not (tmp_path / "db.sqlite").exists()  # refused before anything started


def test_cli_says_when_the_port_is_taken(tmp_path: Path) -> None:
    from listener.dashboard.serve import bind

    taken = bind("127.0.0.1", 0)
    port = taken.getsockname()[1]
    config = tmp_path / "c.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n'
        f'[dashboard]\nport = {port}\n[[brands]]\nname = "A"\nquery = "a"\n',
        encoding="utf-8",
    )
    try:
        result = CliRunner().invoke(main, ["--config", str(config), "dashboard"])
    finally:
        taken.close()
    assert result.exit_code == 2
    assert f"dashboard.port: cannot listen on 127.0.0.1:{port}" in result.output
