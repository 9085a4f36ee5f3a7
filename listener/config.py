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
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal
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


def check_http_url(value: str) -> str:
    """``value`` without a trailing slash; ValueError unless it is an http(s) URL."""
    return _http_url(value)


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


class Section(BaseModel):
    """Base of every settings model (plugins' too): unknown keys are errors, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, allow_inf_nan=False)


_Section = Section


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


class DispatchJobSettings(JobSettings):
    lease: Duration | None = None
    """How long one delivery attempt may take before it is presumed lost (and an unanswered
    post is left to settle before it is looked for); unset: twice the slowest notifier's
    ``send_timeout`` plus 30 s."""


class JobsSettings(_Section):
    score: JobSettings = JobSettings(interval=timedelta(seconds=30))
    dispatch: DispatchJobSettings = DispatchJobSettings(interval=timedelta(seconds=10))
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
                'dashboard.token (e.g. token = "${LISTENER_DASHBOARD_TOKEN}") or bind 127.0.0.1'
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


class ScaleSettings(_Section):
    """How work is spread over processes. ``engine = "local"`` (the default): one process does
    everything, on SQLite or PostgreSQL. ``engine = "procrastinate"`` (PostgreSQL only):
    ``listener worker`` processes run the score and dispatch jobs queued in the database, and
    ``listener run --role scheduler`` collects (one leader at a time, the others stand by)."""

    engine: Literal["local", "procrastinate"] = "local"
    concurrency: int = Field(default=1, ge=1, le=64)
    """Jobs one ``listener worker`` process runs at a time (scoring is CPU-bound: run one
    worker process per core rather than raising this)."""
    batch_size: int = Field(default=256, ge=1, le=10_000)
    """Mentions per scoring job: a collected batch is cut into jobs of this size at enqueue."""
    stalled_after: Duration = timedelta(seconds=30)
    """A job whose worker sent no heartbeat for this long is retried (its worker died)."""
    keep_finished: Duration = timedelta(hours=1)
    """Finished jobs are deleted this long after they ended (in whole hours: less than an
    hour deletes them at the next upkeep)."""
    upkeep_interval: Duration = timedelta(seconds=10)
    """How often the leader retries stalled jobs, prunes finished ones and enqueues work that
    has no job yet (mentions queued before the switch, alerts due for a retry)."""
    leader_poll: Duration = timedelta(seconds=1)
    """How often a standby scheduler tries to become the leader."""


class BrandSettings(_Section):
    """One ``[[brands]]`` entry. Per-kind options are the plugins' own sections of the brand
    (``[brands.reddit] subreddits = [...]``, ``[brands.slack] channel = "#x"``), validated by
    their models and kept in ``options`` by section name."""

    name: NonEmpty
    query: NonEmpty
    languages: list[Annotated[str, AfterValidator(_language)]] = Field(default_factory=list)
    handles: list[NonEmpty] = Field(default_factory=list)
    notify: list[NonEmpty] | None = None
    """Names of the notifiers this brand's alerts go to; unset: every configured notifier."""
    competitors: list[NonEmpty] = Field(default_factory=list)
    """Configured brands to compare this one with (share of voice, trends --vs)."""
    report: ReportSettings | None = None
    """Per-brand overrides of ``[reports]``."""

    alerts: AlertSettings | None = None
    """Per-brand overrides of ``[alerts]``: only the keys written here replace the defaults."""

    options: dict[str, Any] = Field(default_factory=dict, exclude=True)
    """The brand's plugin sections by name (set by the loader, never read from the file)."""

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        from listener.query import parse

        try:
            parse(value)
        except ConfigError as exc:
            raise ValueError(str(exc).split("query: ", 1)[-1]) from None
        return value

    def option(self, name: str, kind: str | None = None) -> Any:
        """The brand's section for plugin section ``name`` (else for its ``kind``), or None."""
        found = self.options.get(name)
        if found is None and kind is not None:
            found = self.options.get(kind)
        return found


@dataclass(frozen=True, kw_only=True, slots=True)
class PluginSection:
    """One configured source or notifier: its kind, its name and its validated settings."""

    kind: str
    name: str
    settings: Any
    where: str
    """Where the file sets it (``twitter``, ``sources.twitter``, ``notifiers.ops``)."""


class Settings(_Section):
    """The whole config: core sections, plus the configured plugins' sections."""

    storage: StorageSettings = StorageSettings()
    model: ModelSettings = ModelSettings()
    alerts: AlertSettings = AlertSettings()
    jobs: JobsSettings = JobsSettings()
    ops: OpsSettings = OpsSettings()
    dashboard: DashboardSettings = DashboardSettings()
    reports: ReportSettings = ReportSettings()
    scale: ScaleSettings = ScaleSettings()
    brands: list[BrandSettings] = Field(default_factory=list)

    source_sections: dict[str, PluginSection] = Field(default_factory=dict, exclude=True)
    """Configured sources by kind (``[sources.KIND]``, or a top-level ``[KIND]`` as before)."""
    notifier_sections: dict[str, PluginSection] = Field(default_factory=dict, exclude=True)
    """Configured notifiers by name (``[notifiers.NAME]``, or a top-level ``[KIND]``)."""
    source_path: Path | None = Field(default=None, exclude=True)
    """The file these settings came from (relative paths in it are resolved against its folder)."""

    @model_validator(mode="after")
    def _scale(self) -> Settings:
        if self.scale.engine == "procrastinate" and not self.storage.url.startswith("postgresql"):
            raise ValueError(
                'scale.engine = "procrastinate" needs PostgreSQL: storage.url must be a '
                "postgresql:// URL (the job queue lives in that database)"
            )
        return self

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
        return self

    def report_for(self, brand: BrandSettings) -> ReportSettings:
        """``[reports]`` with the brand's own ``report`` keys applied."""
        if brand.report is None:
            return self.reports
        return self.reports.model_copy(
            update={k: getattr(brand.report, k) for k in brand.report.model_fields_set}
        )

    def sources(self) -> dict[str, Any]:
        """The configured sources' settings by kind."""
        return {kind: section.settings for kind, section in self.source_sections.items()}

    def notifiers(self) -> dict[str, PluginSection]:
        """The configured notifiers by name."""
        return dict(self.notifier_sections)

    def resolve(self, path: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        candidate = Path(path).expanduser()
        if candidate.is_absolute() or self.source_path is None:
            return candidate
        return self.source_path.parent / candidate

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            # before plugins, every kind was a field (``settings.twitter``): still readable
            try:
                return super().__getattr__(name)
            except AttributeError:
                if name.startswith("_"):
                    raise
                sections = self.__dict__.get("source_sections", {})
                if name in sections:
                    return sections[name].settings
                notifiers = self.__dict__.get("notifier_sections", {})
                if name in notifiers:
                    return notifiers[name].settings
                from listener import plugins

                if plugins.source(name) is not None or plugins.notifier(name) is not None:
                    return None
                raise


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
    from listener.sections import Sections

    sections = Sections(expanded)
    errors = sections.errors(data)
    try:
        settings = Settings.model_validate(sections.core)
    except ValidationError as exc:
        errors = [_describe(e, data) for e in exc.errors()] + errors
    if errors:
        raise ConfigError(_hide(f"{file}: {'; '.join(errors)}", used))
    settings = sections.apply(settings)
    problems = sections.check_queries(settings)
    if problems:
        raise ConfigError(_hide(f"{file}: {'; '.join(problems)}", used))
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
    return settings_with_paths(settings, resolve)


def settings_with_paths(settings: Settings, resolve: Any) -> Settings:
    """``settings`` with the relative paths of plugin sections resolved: a section model that
    has ``resolve_paths(resolve)`` gets ``resolve(value, key)`` for each of its paths."""
    from listener.sections import with_paths

    return with_paths(settings, resolve)


_MOVED = {
    "TwitterSettings": "listener.collectors.twitter",
    "RedditSettings": "listener.collectors.reddit",
    "ReplaySettings": "listener.collectors.replay",
    "SlackSettings": "listener.notifiers.slack",
}
"""Settings models that moved into their plugin's module; importable from here as before."""


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
