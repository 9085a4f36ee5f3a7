"""What the CLI commands share: the config path, the loaded Settings, the App."""

from __future__ import annotations

from pathlib import Path

import click
from pydantic import BaseModel, SecretStr

from listener.app import App
from listener.config import ModelSettings, Settings, load_settings
from listener.logs import register_secrets


def _secrets(model: BaseModel) -> list[str]:
    found: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            found += _secrets(value)
        elif isinstance(value, list):
            found += [s for item in value if isinstance(item, BaseModel) for s in _secrets(item)]
    return found


class CliState:
    """Loaded on demand: commands that need no config (``score``) never read one."""

    def __init__(self, config_path: Path | None) -> None:
        self.config_path = config_path
        self._settings: Settings | None = None
        self._app: App | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            if self.config_path is None:
                raise click.UsageError("this command needs --config FILE (or LISTENER_CONFIG)")
            self._settings = load_settings(self.config_path)
            register_secrets(*_secrets(self._settings))
        return self._settings

    def model_settings(self) -> ModelSettings:
        return self.settings().model if self.config_path is not None else ModelSettings()

    def app(self) -> App:
        if self._app is None:
            self._app = App(self.settings())
            click.get_current_context().call_on_close(self._app.close)
        return self._app
