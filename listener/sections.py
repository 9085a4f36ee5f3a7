"""The plugins' sections of a config file, split from the core and validated by their models.

Where a section may be written (the same kind never twice):

- sources: ``[sources.KIND]``, or a top-level ``[KIND]`` as before plugins (``[twitter]``);
- notifiers: ``[notifiers.NAME]`` with ``kind = "..."`` (default: NAME), or a top-level
  ``[KIND]`` (``[slack]``, named after its kind);
- per brand: ``[brands.KIND]`` / ``[brands.NAME]``, or the plugin's old brand keys
  (``subreddits``, ``slack_channel``: its ``brand_aliases``).

Messages name the key where the file wrote it, as the core's do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from listener import plugins
from listener.config import BrandSettings, PluginSection, Settings, _describe, _key_path
from listener.errors import ConfigError

_LOADER_ONLY = ("source_sections", "notifier_sections", "options")
"""Fields the loader sets: never read from the file."""


@dataclass(kw_only=True)
class _Raw:
    kind: str
    name: str
    loc: tuple[int | str, ...]
    values: Any
    fields: dict[str, tuple[int | str, ...]] = field(default_factory=dict)
    """For brand sections made of old keys: the section's key -> where the file wrote it."""


class Sections:
    """One config's plugin sections: ``core`` is what the Settings model validates."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.core: dict[str, Any] = {}
        self._problems: list[str] = []
        self._sources: dict[str, _Raw] = {}
        self._notifiers: dict[str, _Raw] = {}
        self._brands: dict[int, dict[str, _Raw]] = {}
        self._validated: dict[tuple[str, str], Any] = {}
        self._brand_options: dict[int, dict[str, Any]] = {}
        core_keys = set(Settings.model_fields)
        for key, value in data.items():
            if key in _LOADER_ONLY:
                self._problems.append(f"{key}: unknown key (it is set by the loader)")
            elif key in core_keys:
                self.core[key] = value
            elif key == "sources":
                self._tables(value, ("sources",), self._add_source)
            elif key == "notifiers":
                self._tables(value, ("notifiers",), self._add_notifier)
            elif plugins.source(key) is not None:
                self._add_source(key, value, (key,))
            elif plugins.notifier(key) is not None:
                self._add_notifier(key, value, (key,))
            else:
                self.core[key] = value  # the model says "unknown key"
        brands = self.core.get("brands")
        if isinstance(brands, list):
            self.core["brands"] = [self._split_brand(i, b) for i, b in enumerate(brands)]

    # -- splitting ----------------------------------------------------------------------------

    def _tables(self, value: Any, loc: tuple[str, ...], add: Callable[..., None]) -> None:
        if not isinstance(value, dict):
            self._problems.append(f"{loc[0]}: expected a table of sections")
            return
        for name, section in value.items():
            add(name, section, (*loc, name))

    def _add_source(self, kind: str, value: Any, loc: tuple[int | str, ...]) -> None:
        where = _where(loc)
        if plugins.source(kind) is None:
            known = ", ".join(plugins.kinds(plugins.SOURCES))
            self._problems.append(f"{where}: unknown source kind (installed: {known})")
        elif kind in self._sources:
            first = _where(self._sources[kind].loc)
            self._problems.append(f"{where}: {kind} is already set in [{first}]; keep one")
        else:
            self._sources[kind] = _Raw(kind=kind, name=kind, loc=loc, values=value)

    def _add_notifier(self, name: str, value: Any, loc: tuple[int | str, ...]) -> None:
        where = _where(loc)
        kind = name
        if isinstance(value, dict) and loc[0] == "notifiers":
            value = dict(value)
            kind = value.pop("kind", name)
        if not isinstance(kind, str) or plugins.notifier(kind) is None:
            known = ", ".join(plugins.kinds(plugins.NOTIFIERS))
            problem = f"unknown notifier kind {kind!r}" if kind != name else "unknown notifier"
            self._problems.append(f"{where}: {problem} (installed kinds: {known})")
        elif name in self._notifiers:
            first = _where(self._notifiers[name].loc)
            self._problems.append(f"{where}: notifier {name} is already set in [{first}]")
        else:
            self._notifiers[name] = _Raw(kind=kind, name=name, loc=loc, values=value)

    def _split_brand(self, index: int, brand: Any) -> Any:
        if not isinstance(brand, dict):
            return brand
        core: dict[str, Any] = {}
        own: dict[str, _Raw] = {}
        fields = set(BrandSettings.model_fields)
        aliases: dict[str, tuple[str, str]] | None = None
        for key, value in brand.items():
            loc: tuple[int | str, ...] = ("brands", index, key)
            plugin = self._brand_plugin(key)
            if key == "options":
                self._problems.append(f"{_where(loc)}: unknown key (write [brands.KIND] tables)")
            elif key in fields:
                core[key] = value
            elif plugin is not None:
                if key in own:  # set by an old key already
                    if not isinstance(value, dict):
                        core[key] = value
                        continue
                    own[key].values = {**own[key].values, **value}
                else:
                    own[key] = _Raw(kind=plugin.kind, name=key, loc=loc, values=value)
            else:
                aliases = _aliases() if aliases is None else aliases
                if key not in aliases:
                    core[key] = value  # the model says "unknown key"
                    continue
                section, target = aliases[key]
                raw = own.setdefault(
                    section, _Raw(kind=section, name=section, loc=("brands", index), values={})
                )
                if isinstance(raw.values, dict):
                    raw.values = {**raw.values, target: value}
                    raw.fields[target] = loc
        self._brands[index] = own
        return core

    def _brand_plugin(self, key: str) -> plugins._Plugin[Any] | None:
        if key in self._notifiers:
            return plugins.notifier(self._notifiers[key].kind)
        found: plugins._Plugin[Any] | None = plugins.source(key) or plugins.notifier(key)
        return found if found is not None and found.brand_options is not None else None

    # -- validating ---------------------------------------------------------------------------

    def errors(self, data: Any) -> list[str]:
        """Every problem of the plugin sections, as one-line messages naming their keys."""
        problems = list(self._problems)
        for raw in self._sources.values():
            plugin = plugins.source(raw.kind)
            assert plugin is not None
            problems += self._validate(("source", raw.name), plugin.settings, raw, data)
        for raw in self._notifiers.values():
            notifier = plugins.notifier(raw.kind)
            assert notifier is not None
            problems += self._validate(("notifier", raw.name), notifier.settings, raw, data)
        for index, own in self._brands.items():
            for name, raw in own.items():
                found: plugins._Plugin[Any] | None = (
                    self._brand_plugin(name)
                    or plugins.source(raw.kind)
                    or plugins.notifier(raw.kind)
                )
                if found is None or found.brand_options is None:
                    continue
                problems += self._validate((f"brand{index}", name), found.brand_options, raw, data)
        return problems

    def _validate(
        self, key: tuple[str, str], model: type[BaseModel], raw: _Raw, data: Any
    ) -> list[str]:
        if not isinstance(raw.values, dict):
            return [f"{_key_path(raw.loc, data)}: expected a table"]
        try:
            self._validated[key] = model.model_validate(raw.values)
        except ValidationError as exc:
            return [_describe(_located(e, raw), data) for e in exc.errors()]
        return []

    def apply(self, settings: Settings) -> Settings:
        """``settings`` with the validated plugin sections in place."""
        sources = {
            kind: PluginSection(
                kind=kind,
                name=kind,
                settings=self._validated[("source", kind)],
                where=_where(raw.loc),
            )
            for kind, raw in self._sources.items()
        }
        notifiers = {
            name: PluginSection(
                kind=raw.kind,
                name=name,
                settings=self._validated[("notifier", name)],
                where=_where(raw.loc),
            )
            for name, raw in self._notifiers.items()
        }
        brands = []
        for index, brand in enumerate(settings.brands):
            own = {
                name: self._validated[key]
                for name in self._brands.get(index, {})
                if (key := (f"brand{index}", name)) in self._validated
            }
            brands.append(brand.model_copy(update={"options": own}))
        return settings.model_copy(
            update={"source_sections": sources, "notifier_sections": notifiers, "brands": brands}
        )

    def check_queries(self, settings: Settings) -> list[str]:
        """What a configured source cannot search, said now: ``brands[i](name).query: ...``;
        a brand routed to a notifier that is not configured."""
        problems: list[str] = []
        names = set(settings.notifier_sections) or {"console"}
        for i, brand in enumerate(settings.brands):
            label = f"brands[{i}]({brand.name})"
            for kind in settings.source_sections:
                plugin = plugins.source(kind)
                if plugin is None or plugin.check_query is None:
                    continue
                try:
                    plugin.check_query(brand.query, brand.languages, brand.name, brand.option(kind))
                except ConfigError as exc:
                    problems.append(f"{label}.query: {exc}")
                    break
            unknown = [n for n in brand.notify or () if n not in names]
            if unknown:
                problems.append(
                    f"{label}.notify: no notifier named {', '.join(map(repr, unknown))} "
                    f"(configured: {', '.join(sorted(names))})"
                )
        return problems


def _aliases() -> dict[str, tuple[str, str]]:
    """Old brand key -> (plugin section, key in it), over every installed plugin."""
    found: dict[str, tuple[str, str]] = {}
    for group in (plugins.sources(), plugins.notifiers()):
        for kind, plugin in group.items():
            for old, new in plugin.brand_aliases.items():
                found.setdefault(old, (kind, new))
    return found


def _located(error: Any, raw: _Raw) -> dict[str, Any]:
    """``error`` of a section's model, located where the file wrote the key."""
    loc = tuple(error["loc"])
    if loc and loc[0] in raw.fields:
        return {**error, "loc": raw.fields[str(loc[0])] + loc[1:]}
    return {**error, "loc": raw.loc + loc}


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def with_paths(settings: Settings, resolve: Callable[[str, str], str]) -> Settings:
    """``settings`` whose plugin sections have resolved their relative paths (see config)."""

    def fixed(sections: Mapping[str, PluginSection]) -> dict[str, PluginSection]:
        out = {}
        for name, section in sections.items():
            method = getattr(section.settings, "resolve_paths", None)
            if method is not None:

                def scoped(value: str, key: str, where: str = section.where) -> str:
                    return resolve(value, f"{where}.{key}")

                section = PluginSection(
                    kind=section.kind,
                    name=section.name,
                    settings=method(scoped),
                    where=section.where,
                )
            out[name] = section
        return out

    return settings.model_copy(
        update={
            "source_sections": fixed(settings.source_sections),
            "notifier_sections": fixed(settings.notifier_sections),
        }
    )
