"""Load and validate the TOML configuration into frozen settings.

Secrets are written as ``${ENV_VAR}`` references and expanded from the environment. Every mistake
raises ConfigError naming the file, the key path and what was expected; no secret value is ever
part of the message.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from listener.durations import parse_duration
from listener.errors import ConfigError
from listener.scoring.names import BUNDLED_NAME

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


MAX_DURATION = timedelta(days=3650)
"""The longest duration a config may set (schedulers and clocks overflow far beyond it)."""
MAX_DEPTH = 16
"""Arrays and tables nest at most this deep in a config (ours need 3)."""
DATABASES = {"sqlite": ("", "pysqlite"), "postgresql": ("", "psycopg")}
"""storage.url backends and the drivers installed for them ('' is the default driver)."""


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return parse_duration(value, maximum=MAX_DURATION)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http(s) URL such as 'https://api.example.com'")
    return value.rstrip("/")


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _database_url(value: str) -> str:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
        port = url.port
    except ArgumentError:
        raise ValueError(
            "expected a database URL such as 'sqlite:///listener.db' or "
            "'postgresql+psycopg://user@host/db'"
        ) from None
    except ValueError:
        raise ValueError("the port must be a number") from None
    backend, _, driver = url.drivername.partition("+")
    if driver not in DATABASES.get(backend, ()):
        raise ValueError(
            f"{url.drivername}:// is not supported: use sqlite:///path.db or "
            "postgresql+psycopg://user@host/db"
        )
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"the port must be 1-65535, got {port}")
    return value


def _language(value: str) -> str:
    from listener.query import LANG_CODE

    if not LANG_CODE.fullmatch(value):
        raise ValueError("expected a language code such as 'en' or 'pt-BR'")
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
HttpUrl = Annotated[str, AfterValidator(_http_url)]
NonEmpty = Annotated[str, AfterValidator(_non_empty)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, allow_inf_nan=False)


class StorageSettings(_Section):
    url: Annotated[str, AfterValidator(_database_url)] = "sqlite:///listener.db"
    """SQLAlchemy URL: sqlite:///path.db (embedded default) or postgresql+psycopg://..."""


class ModelSettings(_Section):
    name: NonEmpty = BUNDLED_NAME
    labels: dict[str, str] = Field(default_factory=dict)
    batch_size: int = Field(default=32, ge=1, le=1024)
    max_length: int = Field(default=128, ge=8, le=4096)
    quantize: bool | None = None
    """Dynamic int8 on CPU; unset: the model's default (int8, fp32 for the large bundled one)."""
    threads: int = Field(default=0, ge=0, le=256)
    cache_dir: str | None = None

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(v for v in value.values() if v not in ("negative", "neutral", "positive"))
        if bad:
            raise ValueError(f"label map values must be negative, neutral or positive, got {bad}")
        return value


class TwitterSettings(_Section):
    bearer_token: SecretStr
    api_base: HttpUrl = "https://api.twitter.com"
    interval: Duration = timedelta(minutes=1)
    max_pages: int = Field(default=10, ge=1, le=100)
    timeout: Duration = timedelta(seconds=20)


class RedditSettings(_Section):
    client_id: SecretStr
    client_secret: SecretStr
    user_agent: NonEmpty
    api_base: HttpUrl = "https://oauth.reddit.com"
    auth_base: HttpUrl = "https://www.reddit.com"
    interval: Duration = timedelta(minutes=2)
    limit: int = Field(default=100, ge=1, le=1000)
    timeout: Duration = timedelta(seconds=20)


class ReplaySettings(_Section):
    paths: list[NonEmpty] = Field(min_length=1)
    """JSONL files or glob patterns, relative to the config file's folder."""
    interval: Duration = timedelta(minutes=1)
    max_lines: int = Field(default=10_000, ge=1, le=10_000_000)


SourceSettings = TwitterSettings | RedditSettings | ReplaySettings


class SlackSettings(_Section):
    token: SecretStr | None = None
    webhook_url: SecretStr | None = None
    channel: str | None = None
    api_base: HttpUrl = "https://slack.com/api"
    timeout: Duration = timedelta(seconds=10)

    @model_validator(mode="after")
    def _one_way_in(self) -> SlackSettings:
        if (self.token is None) == (self.webhook_url is None):
            raise ValueError("set exactly one of slack.token or slack.webhook_url")
        if self.token is not None and not self.channel:
            raise ValueError("slack.channel is required with slack.token")
        if self.webhook_url is not None:
            _http_url(self.webhook_url.get_secret_value())
        return self


class AlertSettings(_Section):
    """Alert rules, storm control, spikes and delivery retries.

    ``[alerts]`` holds the defaults for every brand; ``[[brands]] alerts = {...}`` overrides any
    of them for one brand (only the keys written there).
    """

    anger_threshold: float = Field(default=0.6, ge=0, le=1)
    negative_threshold: float = Field(default=0.6, ge=0, le=1)
    high_reach: int = Field(default=10_000, ge=0, le=10**12)
    """Authors with at least this many followers get the lower high_reach_* bars."""
    high_reach_anger_threshold: float = Field(default=0.45, ge=0, le=1)
    high_reach_negative_threshold: float = Field(default=0.5, ge=0, le=1)
    storm_threshold: int = Field(default=10, ge=1, le=1_000_000)
    """More than this many mention alerts for one brand within storm_window: one digest."""
    storm_window: Duration = timedelta(minutes=10)
    digest_interval: Duration = timedelta(minutes=2)
    """During a storm, at most one digest per brand per this interval."""
    digest_examples: int = Field(default=5, ge=1, le=20)
    max_age: Duration = timedelta(hours=24)
    """Mentions already older than this when collected (backfills, imports) never alert."""
    spike_window: Duration = timedelta(hours=1)
    spike_baseline_days: int = Field(default=7, ge=1, le=60)
    spike_min_volume: int = Field(default=20, ge=1, le=10**9)
    spike_ratio: float = Field(default=2.0, ge=1)
    spike_z: float = Field(default=3.0, gt=0)
    spike_net_drop: float = Field(default=25.0, gt=0, le=200)
    """Net sentiment (% positive - % negative) this many points below the baseline fires."""
    spike_cooldown: Duration = timedelta(hours=2)
    retry_initial: Duration = timedelta(seconds=5)
    retry_max: Duration = timedelta(minutes=5)
    give_up_after: Duration = timedelta(hours=24)
    """A transient failure is retried (with backoff) until the alert is this old, then failed."""


class JobSettings(_Section):
    interval: Duration
    batch_size: int = Field(default=256, ge=1, le=100_000)


class JobsSettings(_Section):
    score: JobSettings = JobSettings(interval=timedelta(seconds=30))
    dispatch: JobSettings = JobSettings(interval=timedelta(seconds=10))
    trends: JobSettings = JobSettings(interval=timedelta(minutes=5))


class OpsSettings(_Section):
    """``/metrics`` and ``/healthz`` of ``listener run``: off unless a port is set."""

    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    """Port of the ops endpoint (0: any free port, logged); unset: not served."""
    metrics_host: NonEmpty = "127.0.0.1"
    """Address to listen on; 0.0.0.0 in a container."""
    unhealthy_after: Duration = timedelta(minutes=15)
    """/healthz turns 503 when a job has not succeeded for this long (or 3 intervals)."""


LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host.casefold() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class DashboardSettings(_Section):
    """``listener dashboard``: the read-only web dashboard (its one write, a label override,
    needs the token)."""

    host: NonEmpty = "127.0.0.1"
    port: int = Field(default=8050, ge=0, le=65535)
    token: SecretStr | None = None
    """Write it as ``token = "${LISTENER_DASHBOARD_TOKEN}"``; required to bind beyond loopback
    and to override labels."""

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters (e.g. `openssl rand -hex 24`)")
        return value

    @model_validator(mode="after")
    def _exposed(self) -> DashboardSettings:
        if self.token is None and not is_loopback(self.host):
            raise ValueError(
                f"dashboard.host {self.host!r} is reachable from other machines: set "
                "dashboard.token (e.g. token = \"${LISTENER_DASHBOARD_TOKEN}\") or bind 127.0.0.1"
            )
        return self


class ReportSettings(_Section):
    """The scheduled Slack summary of a brand: ``[reports]`` holds the defaults,
    ``[[brands]] report = {...}`` overrides any of them for one brand."""

    every: Literal["off", "daily", "weekly"] = "off"
    hour: int = Field(default=8, ge=0, le=23)
    """UTC hour at which the report of the period that just ended is sent."""
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    """Day of a weekly report."""
    channel: str | None = None
    """Slack channel; default: the brand's slack_channel, else [slack] channel."""
    drivers: int = Field(default=5, ge=0, le=20)


class BrandSettings(_Section):
    name: NonEmpty
    query: NonEmpty
    languages: list[Annotated[str, AfterValidator(_language)]] = Field(default_factory=list)
    subreddits: list[NonEmpty] = Field(default_factory=list)
    handles: list[NonEmpty] = Field(default_factory=list)
    slack_channel: str | None = None
    competitors: list[NonEmpty] = Field(default_factory=list)
    """Configured brands to compare this one with (share of voice, trends --vs)."""
    report: ReportSettings | None = None
    """Per-brand overrides of ``[reports]``."""

    alerts: AlertSettings | None = None
    """Per-brand overrides of ``[alerts]``: only the keys written here replace the defaults."""

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        from listener.query import parse

        try:
            parse(value)
        except ConfigError as exc:
            raise ValueError(str(exc).split("query: ", 1)[-1]) from None
        return value


class Settings(_Section):
    storage: StorageSettings = StorageSettings()
    model: ModelSettings = ModelSettings()
    twitter: TwitterSettings | None = None
    reddit: RedditSettings | None = None
    replay: ReplaySettings | None = None
    slack: SlackSettings | None = None
    alerts: AlertSettings = AlertSettings()
    jobs: JobsSettings = JobsSettings()
    ops: OpsSettings = OpsSettings()
    dashboard: DashboardSettings = DashboardSettings()
    reports: ReportSettings = ReportSettings()
    brands: list[BrandSettings] = Field(default_factory=list)

    source_path: Path | None = Field(default=None, exclude=True)
    """The file these settings came from (relative paths in it are resolved against its folder)."""

    @model_validator(mode="after")
    def _brands(self) -> Settings:
        names = [b.name.casefold() for b in self.brands]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"brand names must be unique, repeated: {dupes}")
        known = {b.name.casefold() for b in self.brands}
        for i, brand in enumerate(self.brands):
            unknown = [c for c in brand.competitors if c.casefold() not in known]
            if unknown:
                raise ValueError(
                    f"brands[{i}]({brand.name}).competitors: {unknown} are not configured "
                    "brands (add them as [[brands]] so their mentions are collected)"
                )
        from listener.query import parse, to_reddit, to_twitter

        for i, brand in enumerate(self.brands):  # what X or Reddit cannot search, said now
            try:
                if self.twitter is not None:
                    to_twitter(parse(brand.query), brand.languages, brand=brand.name)
                if self.reddit is not None:
                    to_reddit(parse(brand.query, brand=brand.name))
            except ConfigError as exc:
                raise ValueError(f"brands[{i}]({brand.name}).query: {exc}") from None
        return self

    def report_for(self, brand: BrandSettings) -> ReportSettings:
        """``[reports]`` with the brand's own ``report`` keys applied."""
        if brand.report is None:
            return self.reports
        return self.reports.model_copy(
            update={k: getattr(brand.report, k) for k in brand.report.model_fields_set}
        )

    def sources(self) -> dict[str, SourceSettings]:
        """The configured collector sections by kind (the collector module's name)."""
        found = {"twitter": self.twitter, "reddit": self.reddit, "replay": self.replay}
        return {kind: section for kind, section in found.items() if section is not None}

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        candidate = Path(path).expanduser()
        if candidate.is_absolute() or self.source_path is None:
            return candidate
        return self.source_path.parent / candidate


def _key(path: str, key: str | int) -> str:
    """``path`` extended by a table key or an array index, as messages show it."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    shown = key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _show(key)
    return f"{path}.{shown}" if path else shown


def _show(value: Any, limit: int = 60) -> str:
    """A value from the file for a message: one line, cut to about ``limit`` characters."""
    if isinstance(value, int) and abs(value) > 10**30:
        return "a number of more than 30 digits"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _check_shape(data: dict[str, Any], file: str) -> None:
    """Nesting depth and NUL characters, checked without recursion (any depth is safe here)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(f"{file}: {path}: nested more than {MAX_DEPTH} levels deep")
        if isinstance(value, dict):
            stack += [(v, _key(path, k), depth + 1) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(v, _key(path, i), depth + 1) for i, v in enumerate(value)]
        elif isinstance(value, str) and "\x00" in value:
            raise ConfigError(f"{file}: {path}: contains a NUL character")
    if "source_path" in data:
        raise ConfigError(f"{file}: source_path: unknown key (it is set from the file's location)")


def _expand(value: Any, path: str, env: Mapping[str, str], file: str, used: dict[str, str]) -> Any:
    """``value`` with ``${VAR}`` references replaced; ``used`` maps each value put in to its
    variable's name, so that messages can show the reference instead of the value."""
    if isinstance(value, dict):
        return {k: _expand(v, _key(path, k), env, file, used) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, _key(path, i), env, file, used) for i, v in enumerate(value)]
    if isinstance(value, str):

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env or env[name] == "":
                raise ConfigError(f"{file}: {path}: environment variable {name} is not set")
            used[env[name]] = name
            return env[name]

        return _ENV_REF.sub(lookup, value)
    return value


def _hide(message: str, used: Mapping[str, str]) -> str:
    """``message`` with every value that came from the environment shown as its ``${VAR}``."""
    for value in sorted(used, key=len, reverse=True):
        if len(value) >= 3:
            message = message.replace(value, f"${{{used[value]}}}")
    return message


def _key_path(location: tuple[int | str, ...], data: Any) -> str:
    path = ""
    node = data
    for item in location:
        path = _key(path, item)
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            name = node[item].get("name") if isinstance(node[item], dict) else None
            if isinstance(name, str) and name:
                path += (
                    f"({name})" if name.isprintable() and len(name) <= 40 else f"({_show(name)})"
                )
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            node = None
    return path


def _raw(location: tuple[int | str, ...], data: Any) -> Any:
    """The value at ``location`` as written in the file (before ``${VAR}`` expansion)."""
    node = data
    for item in location:
        try:
            node = node[item]
        except (KeyError, IndexError, TypeError):
            return None
    return node


_NEVER_SHOWN = re.compile(r"token|secret|webhook|password|client_id|storage\.url")
"""Keys whose values never appear in messages, even as written in the file."""


def _describe(error: Mapping[str, Any], data: Any) -> str:
    location = tuple(p for p in error["loc"] if not (isinstance(p, str) and "[" in p))
    key = _key_path(location, data)
    kind = error["type"]
    if kind == "missing":
        return f"{key}: required key is missing"
    if kind == "extra_forbidden":
        return f"{key}: unknown key (check the spelling; see README 'Configuration')"
    message = str(error["msg"]).removeprefix("Value error, ")
    if not key:  # a check across sections: the message names its keys itself
        return message
    raw = _raw(location, data)
    shown = isinstance(raw, str | int | float) and "got " not in message
    if shown and not _NEVER_SHOWN.search(key):
        return f"{key}: {message} (got {_show(raw)})"
    return f"{key}: {message}"


def parse_settings(
    text: str, *, file: str = "<config>", env: Mapping[str, str] | None = None
) -> Settings:
    """Validate TOML ``text``; ``file`` is only used in messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses once per level of nesting
        raise ConfigError(f"{file}: arrays or tables nest too deeply") from None
    except ValueError:  # an integer of more than 4300 digits
        raise ConfigError(f"{file}: not valid TOML: a number is too long") from None
    _check_shape(data, file)
    used: dict[str, str] = {}
    expanded = _expand(data, "", os.environ if env is None else env, file, used)
    try:
        settings = Settings.model_validate(expanded)
    except ValidationError as exc:
        details = "; ".join(_describe(e, data) for e in exc.errors())
        raise ConfigError(_hide(f"{file}: {details}", used)) from None
    return settings


def load_settings(path: Path, *, env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the config file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    settings = parse_settings(text, file=str(path), env=env)
    settings = settings.model_copy(update={"source_path": path.resolve()})

    def resolve(value: str, key: str) -> str:
        try:
            return str(settings.resolve(value))
        except RuntimeError:  # '~user' with no such user, or '~' with no home directory
            raise ConfigError(f"{path}: {key}: cannot expand '~' in {_show(value)}") from None

    url = settings.storage.url
    prefix, _, rest = url.partition(":///")
    if prefix.startswith("sqlite") and rest and not rest.startswith(("/", ":memory:")):
        storage = StorageSettings(url=f"{prefix}:///{resolve(rest, 'storage.url')}")
        settings = settings.model_copy(update={"storage": storage})
    if settings.replay is not None:
        paths = [resolve(p, f"replay.paths[{i}]") for i, p in enumerate(settings.replay.paths)]
        settings = settings.model_copy(
            update={"replay": settings.replay.model_copy(update={"paths": paths})}
        )
    return settings
