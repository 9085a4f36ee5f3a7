"""Fuzz the config loader: every input either loads or raises one ConfigError line naming the
file (and the key or TOML line); nothing else escapes, and no ${VAR} value is ever echoed.

300 inputs in CI; ``HYPOTHESIS_PROFILE=long scripts/fuzz`` runs 10,000 (tests/fuzzing.py).
"""

from __future__ import annotations

import random
import typing
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel

from listener.config import (
    AlertSettings,
    BrandSettings,
    JobSettings,
    Settings,
    load_settings,
)
from listener.errors import ConfigError
from tests.fuzzing import Crash, Nested, fuzz, one_line_naming, toml_document

SECRET = "fuzz-s3cr3t-value"
ENV = {"FUZZ_SECRET": SECRET, "FUZZ_PORT": "5432", "FUZZ_EMPTY": ""}


def _model(annotation: Any) -> type[BaseModel] | None:
    """The settings model in ``annotation`` (``X``, ``X | None``), if any."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


SECTIONS: dict[str, type[BaseModel]] = {
    name: model
    for name, field in Settings.model_fields.items()
    if name not in ("jobs", "brands") and (model := _model(field.annotation)) is not None
}
"""Every ``[section]`` of Settings (a new one is fuzzed without a change here)."""
JOBS = ("score", "dispatch", "trends")

TRICKY = [
    "30s",
    "5m",
    "1h30m",
    "7d",
    "1ms",
    "0",
    "-1s",
    "9999999d",
    "99999999999999999999s",
    "1e9",
    "2 fortnights",
    "${FUZZ_SECRET}",
    "x${FUZZ_SECRET}y",
    "${FUZZ_UNSET}",
    "${FUZZ_EMPTY}",
    "${ 1bad}",
    "http://127.0.0.1:8080",
    "https://",
    "ftp://x",
    "http://[::1",
    "sqlite:///listener.db",
    "sqlite://",
    "sqlite:///:memory:",
    "postgresql://u@127.0.0.1:abc/db",
    "postgresql://u:${FUZZ_SECRET}@127.0.0.1:${FUZZ_PORT}/db",
    "postgresql+psycopg://u@h:99999999/db",
    "mysql://u@h/db",
    "oracle+cx://u@h/db",
    "sqlite:///~nosuchuser_fuzz/x.db",
    "~nosuchuser_fuzz/data/*.jsonl",
    "data/*.jsonl",
    "\x00",
    "negative",
    "positive",
    "#social",
    "en",
    "e n",
    "(((a",
    '"unterminated',
    "aurora OR",
    "a\\(b",
    'a\\"b',
    "-x",
    "",
    " ",
]

scalars = st.one_of(
    st.sampled_from(TRICKY),
    st.text(max_size=20),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.integers(min_value=-5, max_value=300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(),
)
keys = st.one_of(st.text(min_size=1, max_size=8), st.sampled_from(["name", "query", "url"]))
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)


deep = st.builds(Nested, st.integers(min_value=1, max_value=1500), scalars, tables=st.booleans())


def _fields(model: type[BaseModel]) -> list[str]:
    return [f for f in model.model_fields if f != "source_path"]


@st.composite
def section(draw: st.DrawFn, model: type[BaseModel]) -> dict[str, Any]:
    names = draw(st.lists(st.sampled_from(_fields(model)), max_size=5, unique=True))
    body = {
        name: draw(st.one_of(values, deep) if draw(st.booleans()) else scalars) for name in names
    }
    if draw(st.integers(0, 9)) == 0:
        body[draw(keys)] = draw(values)
    return body


queries = st.one_of(
    st.sampled_from(TRICKY),
    st.text(alphabet='ab @#-()"\\:ORANDNOTlang', max_size=30),
    st.builds(lambda n: "(" * n + "a" + ")" * n, st.integers(0, 400)),
)


@st.composite
def brand(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": draw(
            st.one_of(st.sampled_from(["A", "a", "Aurora Air", " "]), st.text(max_size=8))
        ),
        "query": draw(queries),
    }
    for name in draw(st.lists(st.sampled_from(_fields(BrandSettings)[2:]), max_size=3)):
        body[name] = draw(section(AlertSettings) if name == "alerts" else values)
    return body


VALID: dict[str, Any] = {
    "storage": {"url": "sqlite:///listener.db"},
    "twitter": {"bearer_token": "${FUZZ_SECRET}", "interval": "2m"},
    "reddit": {
        "client_id": "${FUZZ_SECRET}",
        "client_secret": "${FUZZ_SECRET}",
        "user_agent": "listener-fuzz",
    },
    "replay": {"paths": ["data/*.jsonl"]},
    "slack": {"token": "${FUZZ_SECRET}", "channel": "#social"},
    "alerts": {"max_age": "6h"},
    "brands": [{"name": "Aurora Air", "query": '"aurora air" OR @AuroraAir', "languages": ["en"]}],
}


def boundaries(model: type[BaseModel], name: str) -> list[Any]:
    """Values at and next to a field's limits, and its default: where off-by-ones live."""
    field = model.model_fields[name]
    found: list[Any] = []
    default = field.default
    if isinstance(default, timedelta):
        found += [f"{int(default.total_seconds())}s", "3650d", "3651d", "1s", "0s"]
    elif isinstance(default, bool | int | float | str):
        found.append(default)
    for limit in field.metadata:
        for attr in ("ge", "gt", "le", "lt"):
            bound = getattr(limit, attr, None)
            if isinstance(bound, int | float):
                step = 1 if isinstance(bound, int) else 0.001
                found += [bound - step, bound, bound + step]
    return found


@st.composite
def near_valid(draw: st.DrawFn) -> dict[str, Any]:
    """A valid document with one to three values changed: reaches the checks after parsing."""
    doc = {k: ([dict(b) for b in v] if k == "brands" else dict(v)) for k, v in VALID.items()}
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from([*sorted(SECTIONS), "brands"]))
        if name == "brands":
            body = doc["brands"][0]
            field = draw(st.sampled_from(_fields(BrandSettings)))
            body[field] = draw(queries if field == "query" else st.one_of(scalars, values))
        else:
            body = doc.setdefault(name, {})
            field = draw(st.sampled_from(_fields(SECTIONS[name])))
            edges = boundaries(SECTIONS[name], field)
            edge = [st.sampled_from(edges)] * 2 if edges else []
            body[field] = draw(st.one_of(*edge, scalars, deep))
    return doc


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return draw(near_valid())
    doc: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(sorted(SECTIONS)), max_size=4, unique=True)):
        doc[name] = draw(section(SECTIONS[name]))
    if draw(st.booleans()):
        doc["jobs"] = {
            job: draw(section(JobSettings)) for job in draw(st.lists(st.sampled_from(JOBS)))
        }
    doc["brands"] = draw(st.lists(brand(), max_size=3))
    if draw(st.integers(0, 9)) == 0:
        doc[draw(keys)] = draw(st.one_of(values, deep))
    return doc


def _mutate(text: str, rnd: random.Random) -> str:
    """A few random edits, to reach the TOML reader's error paths too."""
    chars = list(text)
    for _ in range(rnd.randint(1, 4)):
        at = rnd.randint(0, len(chars))
        op = rnd.random()
        if op < 0.5:
            chars.insert(at, rnd.choice("[]{}\"=\n#.,'\\$ x1"))
        elif op < 0.8 and chars:
            del chars[min(at, len(chars) - 1)]
        else:
            chars[at:at] = list(rnd.choice(["[[brands]]\n", "[storage]\n", "${FUZZ_SECRET}"]))
    return "".join(chars)


def check_config_text(text: str, path: Path) -> str:
    """Load ``text`` from ``path``; the outcome, or Crash for a ConfigError that is not good."""
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    try:
        load_settings(path, env=ENV)
    except ConfigError as exc:
        message = str(exc)
        if SECRET in message:
            raise Crash("ConfigError echoes a ${VAR} value", repr(message[:300])) from None
        if not message.startswith(f"{path}: "):
            raise Crash("ConfigError does not start with the file", repr(message[:300])) from None
        one_line_naming(message)
        return "rejected (ConfigError)"
    return "accepted"


def test_fuzz_config_documents(tmp_path: Path) -> None:
    path = tmp_path / "fuzz.toml"
    fuzz(
        "config loader (documents)",
        documents().map(toml_document),
        lambda text: check_config_text(text, path),
    )


def test_fuzz_config_mutated_text(tmp_path: Path) -> None:
    path = tmp_path / "fuzz.toml"
    fuzz(
        "config loader (mutated text)",
        st.builds(
            lambda doc, seed: _mutate(toml_document(doc), random.Random(seed)),
            documents(),
            st.integers(),
        ),
        lambda text: check_config_text(text, path),
    )
