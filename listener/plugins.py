"""Source and notifier kinds, found by name: the plugin seam.

A plugin is one module that exposes ``PLUGIN``, a ``SourcePlugin`` or a ``NotifierPlugin``: its
settings model (the ``[sources.KIND]`` / ``[notifiers.NAME]`` section), optionally a per-brand
options model (the ``[brands.KIND]`` / ``[brands.NAME]`` section) and a factory. The core finds
it by kind through Python entry points (groups ``listener.sources`` and ``listener.notifiers``,
so an installed third-party package adds one), then through the family folders
(``listener/collectors/KIND.py``, ``listener/notifiers/KIND.py``) for an install whose entry
points predate the module. Config, app, daemon, CLI and alerting hold no list of kinds.

Errors: an unknown kind, or an entry point that does not load or is not a plugin, is a
ConfigError naming it.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from listener.errors import ConfigError
from listener.ports import Collector, Notifier

if TYPE_CHECKING:
    from pydantic import BaseModel


log = logging.getLogger(__name__)

SOURCES = "listener.sources"
"""Entry-point group of source (collector) kinds."""
NOTIFIERS = "listener.notifiers"
"""Entry-point group of notifier kinds."""
_FOLDERS = {SOURCES: "listener.collectors", NOTIFIERS: "listener.notifiers"}

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True, slots=True)
class PluginContext:
    """What a factory may need besides its own settings."""

    name: str
    """The section's name: the kind for sources, ``[notifiers.NAME]`` for notifiers."""
    config_dir: Path | None = None
    """The config file's folder (relative paths in a section are relative to it)."""

    def resolve(self, path: str) -> Path:
        """``path`` from the config, relative to the config file's folder."""
        candidate = Path(path).expanduser()
        if candidate.is_absolute() or self.config_dir is None:
            return candidate
        return self.config_dir / candidate


@dataclass(frozen=True, kw_only=True, slots=True)
class _Plugin(Generic[T]):
    kind: str
    """The config name of the kind (the module's file name for the built-ins)."""
    settings: type[BaseModel]
    """Model of the plugin's section. Source settings must have an ``interval`` (timedelta)."""
    build: Callable[[Any, PluginContext], T]
    """``build(settings, context)``: the component, from its validated settings."""
    brand_options: type[BaseModel] | None = None
    """Model of the brand's own section for this plugin (``[brands.KIND]``); None: none."""
    brand_aliases: Mapping[str, str] = field(default_factory=dict)
    """Old per-brand keys (``[[brands]] subreddits``) -> key of ``brand_options``; kept so
    that users' files keep working."""
    summary: str = ""


@dataclass(frozen=True, kw_only=True, slots=True)
class SourcePlugin(_Plugin[Collector]):
    """A source kind. ``check_query`` (optional) raises ConfigError when a brand's query cannot
    be searched on this source; it gets the query, the brand's languages and name and its
    options (an instance of ``brand_options`` or None)."""

    check_query: Callable[[str, Sequence[str], str, Any], None] | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class NotifierPlugin(_Plugin[Notifier]):
    """A notifier kind; several ``[notifiers.NAME]`` sections may share one kind."""


def _load(group: str, kind: str) -> Any:
    for ep in entry_points(group=group, name=kind):
        try:
            return ep.load()
        except Exception as exc:  # a broken third-party package: say which one
            raise ConfigError(
                f"{group} plugin {kind!r} ({ep.value}) does not load: {type(exc).__name__}: {exc}"
            ) from exc
    if not kind.isidentifier() or kind.startswith("_"):
        return None
    name = f"{_FOLDERS[group]}.{kind}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:
            return None
        raise
    return getattr(module, "PLUGIN", None)


@cache
def _find(group: str, kind: str) -> _Plugin[Any] | None:
    found = _load(group, kind)
    wanted = SourcePlugin if group == SOURCES else NotifierPlugin
    if found is None:
        return None
    if not isinstance(found, wanted):
        raise ConfigError(f"{group} plugin {kind!r} is not a {wanted.__name__}")
    return found


def kinds(group: str) -> list[str]:
    """The installed kinds of ``group`` (entry points and family-folder modules), sorted."""
    names = {ep.name for ep in entry_points(group=group)}
    package = importlib.import_module(_FOLDERS[group])
    names |= {m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")}
    return sorted(n for n in names if _find(group, n) is not None)


def source(kind: str) -> SourcePlugin | None:
    """The source plugin of ``kind``, or None when none is installed."""
    found = _find(SOURCES, kind)
    return found if isinstance(found, SourcePlugin) else None


def notifier(kind: str) -> NotifierPlugin | None:
    """The notifier plugin of ``kind``, or None when none is installed."""
    found = _find(NOTIFIERS, kind)
    return found if isinstance(found, NotifierPlugin) else None


def sources() -> dict[str, SourcePlugin]:
    """Every installed source plugin by kind."""
    return {k: p for k in kinds(SOURCES) if (p := source(k)) is not None}


def notifiers() -> dict[str, NotifierPlugin]:
    """Every installed notifier plugin by kind."""
    return {k: p for k in kinds(NOTIFIERS) if (p := notifier(k)) is not None}


def refresh() -> None:
    """Forget what was looked up (a package was installed while running: tests)."""
    _find.cache_clear()
    log.debug("plugin cache cleared")
