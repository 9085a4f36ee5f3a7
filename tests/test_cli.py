"""CLI commands over a real SQLite file: db upgrade, export, logging and secret redaction."""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Engine

from listener.cli import main
from listener.domain import Batch, Score
from listener.logs import JsonFormatter, RedactingFilter, register_secrets
from listener.store.db import connect
from listener.store.schema import metadata
from listener.store.sql import SqlStore
from tests.factories import QUERY, T0, mention, sentiment


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "c.toml"
    path.write_text(
        f"""
[storage]
url = "sqlite:///{tmp_path / "db.sqlite"}"
[[brands]]
name = "Aurora Air"
query = "aurora"
""",
        encoding="utf-8",
    )
    return path


def test_migrations_produce_exactly_the_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    config = _config(tmp_path)
    for _ in range(2):
        result = CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert "database at revision 0001" in result.output


def test_export_jsonl_and_csv(tmp_path: Path) -> None:
    config = _config(tmp_path)
    assert CliRunner().invoke(main, ["--config", str(config), "db", "upgrade"]).exit_code == 0
    store = SqlStore(connect(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    hebrew = 'שירות גרוע, "ממש" גרוע,\nשורה שנייה'
    store.add_batch(
        "replay", QUERY, Batch(mentions=[mention(1, text=hebrew, lang="he"), mention(2)])
    )
    first = store.unscored("m@1", 1)[0]
    store.add_scores(
        [Score(mention_id=first.id, model="m@1", sentiment=sentiment(anger=0.7), scored_at=T0)]
    )

    result = CliRunner().invoke(main, ["--config", str(config), "export", "--brand", "aurora air"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["external_id"] for r in rows] == ["1", "2"]
    assert rows[0]["text"] == hebrew
    assert rows[0]["probabilities"] == {"negative": 0.8, "neutral": 0.1, "positive": 0.1}
    assert (rows[0]["label"], rows[0]["anger"], rows[0]["lang"]) == ("negative", 0.7, "en")
    assert rows[1]["label"] is None and rows[1]["probabilities"] is None

    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(config),
            "export",
            "--brand",
            "Aurora Air",
            "--format",
            "csv",
            "--since",
            "100000d",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    table = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["text"] for r in table] == [hebrew, "mention 2 of aurora air"]
    assert table[0]["negative"] == "0.8"

    result = CliRunner().invoke(
        main, ["--config", str(config), "export", "--brand", "x", "--since", "soon"]
    )
    assert result.exit_code == 2
    assert "expected a duration" in result.output


def test_unknown_brand_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--config", str(_config(tmp_path)), "export", "--brand", "Nope"]
    )
    assert result.exit_code == 2
    assert "no brand named 'Nope'" in result.output


def test_json_logs_redact_registered_secrets(caplog: pytest.LogCaptureFixture) -> None:
    register_secrets("xoxb-very-secret-token")
    record = logging.LogRecord(
        "listener.x",
        logging.ERROR,
        __file__,
        1,
        "posting with %s failed",
        ("xoxb-very-secret-token",),
        None,
    )
    assert RedactingFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "posting with *** failed"
    assert line["level"] == "error" and line["logger"] == "listener.x"
