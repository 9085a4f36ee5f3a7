"""The analysts' commands over a real SQLite file: trends in every format, report, override,
rules, rollups rebuild; the migration keeps old mentions; the spike job's catch-up."""

from __future__ import annotations

import csv
import io
import json
import struct
from datetime import timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import insert, select

from listener.app import App
from listener.cli import main
from listener.config import load_settings
from listener.domain import Batch, BrandQuery, Mention, Score, Sentiment
from listener.store.db import connect, upgrade
from listener.store.schema import mention_brands, mentions, trend_rollups
from listener.store.sql import SqlStore
from listener.trends.chart import HEIGHT_PX, WIDTH_PX
from tests.trends_world import AURORA, NORDLYS, NOW, seed

CONFIG = """
[storage]
url = "sqlite:///{db}"

[[brands]]
name = "Aurora Air"
query = '"Aurora Air"'
competitors = ["Nordlys Mobile"]
report = {{ every = "daily", hour = 6 }}

[[brands]]
name = "Nordlys Mobile"
query = "Nordlys"
"""


def _world(tmp_path: Path) -> Path:
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.format(db=tmp_path / "db.sqlite"), encoding="utf-8")
    engine = connect(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    seed(engine)
    engine.dispose()
    return config


def _run(config: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_trends_table_csv_json_and_png(tmp_path: Path) -> None:
    config = _world(tmp_path)
    table = _run(config, "trends", "--brand", "aurora air", "--since", "14d")
    assert "Aurora Air vs Nordlys Mobile" in table
    assert any(block in table for block in "▁▂▃▄▅▆▇█")
    assert "share" in table and "net" in table

    rows = list(
        csv.DictReader(
            io.StringIO(
                _run(
                    config,
                    "trends",
                    "--brand",
                    AURORA,
                    "--since",
                    "3d",
                    "--bucket",
                    "hour",
                    "--format",
                    "csv",
                )
            )
        )
    )
    assert {r["brand"] for r in rows} == {AURORA, NORDLYS}
    assert len([r for r in rows if r["brand"] == AURORA]) in (72, 73)
    assert sum(int(r["volume"]) for r in rows) > 0
    assert all(-100 <= float(r["net_sentiment"]) <= 100 for r in rows)

    doc = json.loads(
        _run(
            config,
            "trends",
            "--brand",
            AURORA,
            "--vs",
            NORDLYS,
            "--since",
            "7d",
            "--lang",
            "pl",
            "--format",
            "json",
        )
    )
    assert doc["bucket"] == "day" and doc["filters"]["languages"] == ["pl"]
    aurora = doc["brands"][0]
    assert aurora["brand"] == AURORA and aurora["total"]["volume"] == sum(
        p["volume"] for p in aurora["points"]
    )
    assert round(sum(b["share_of_voice"] for b in doc["brands"])) == 100

    png = tmp_path / "chart.png"
    _run(config, "trends", "--brand", AURORA, "--format", "png", "--output", str(png))
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (WIDTH_PX, HEIGHT_PX)


def test_report_says_volume_change_share_drivers_and_alerts(tmp_path: Path) -> None:
    config = _world(tmp_path)
    text = _run(config, "report", "--brand", AURORA, "--since", "3d")
    assert "Volume" in text and "net sentiment" in text and "vs the period before" in text
    assert f"Share of voice: {AURORA}" in text and NORDLYS in text
    assert "Top complaint drivers:" in text and ("bagaż" in text or "luggage" in text)
    assert "average first response" in text
    doc = json.loads(_run(config, "report", "--brand", AURORA, "--since", "3d", "--format", "json"))
    assert doc["net_change"] < 0 and doc["drivers"]


def test_override_and_rules_win_and_rebuild_agrees(tmp_path: Path) -> None:
    config = _world(tmp_path)
    engine = connect(f"sqlite:///{tmp_path / 'db.sqlite'}")

    def total_negative() -> int:
        with engine.connect() as conn:
            return sum(
                conn.execute(
                    select(trend_rollups.c.negative).where(trend_rollups.c.brand == AURORA)
                ).scalars()
            )

    before = total_negative()
    with engine.connect() as conn:
        target = conn.execute(
            select(mentions.c.id).where(mentions.c.text.like("%luggage%"))
        ).scalar()
    out = _run(config, "override", str(target), "--label", "positive", "--by", "ana")
    assert "label positive (set by ana; model said negative)" in out
    assert total_negative() == before - 1
    exported = _run(config, "export", "--brand", AURORA, "--format", "csv")
    row = next(
        r
        for r in csv.DictReader(io.StringIO(exported))
        if "luggage" in r["text"] and r["label_by"] == "ana"
    )
    assert (row["label"], row["model_label"]) == ("positive", "negative")

    out = _run(config, "rules", "add", "bags", "--query", "bagaż", "--label", "neutral", "--apply")
    assert "labelled" in out
    after_rule = total_negative()
    assert after_rule < before - 1
    assert "bags" in _run(config, "rules", "list")
    _run(config, "rollups", "rebuild")
    assert total_negative() == after_rule, "the kept rollups equal a rebuild"
    _run(config, "rules", "remove", "bags")
    assert total_negative() == before - 1
    _run(config, "override", str(target), "--label", "model")
    assert total_negative() == before


def test_migration_keeps_old_mentions_and_builds_rollups(tmp_path: Path) -> None:
    db = tmp_path / "db.sqlite"
    engine = connect(f"sqlite:///{db}")
    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(
            insert(mentions).values(
                source="twitter",
                external_id="1",
                brand=AURORA,
                text="old one",
                author="a",
                author_reach=5,
                engagement=0,
                url="",
                created_at=NOW,
                collected_at=NOW,
                raw={},
            )
        )
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.format(db=db), encoding="utf-8")
    with App(load_settings(config)) as app:
        app.upgrade()
        with app.engine.connect() as conn:
            assert conn.execute(select(mention_brands.c.brand)).scalars().all() == [AURORA]
        trend = app.trends.trend(
            AURORA, since=NOW - timedelta(days=1), until=NOW + timedelta(hours=1)
        )
        assert (trend.total.volume, trend.total.reach) == (1, 5)


def test_the_spike_job_finds_a_storm_in_a_window_it_has_not_seen(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.format(db=tmp_path / "db.sqlite"), encoding="utf-8")
    with App(load_settings(config)) as app:
        app.upgrade()
        store = SqlStore(app.engine)
        items = []
        for day in range(1, 8):  # the usual: 4 negative an hour
            for hour in range(0, 24):
                for k in range(4):
                    at = NOW - timedelta(days=day, hours=-hour, minutes=-k * 10)
                    items.append((at, "Aurora Air delayed again", "negative"))
                    items.append((at, "Aurora Air fine flight", "positive"))
        storm_at = NOW - timedelta(hours=5)
        items += [
            (storm_at + timedelta(minutes=k), f"Aurora Air lost my luggage {k}", "negative")
            for k in range(60)
        ]
        items = [i for i in items if i[0] < NOW]
        batch = [
            Mention(
                source="twitter",
                external_id=str(n),
                brand=AURORA,
                text=text,
                author=f"u{n}",
                created_at=at,
                lang="en",
            )
            for n, (at, text, _) in enumerate(items)
        ]
        store.add_batch("twitter", BrandQuery(brand=AURORA, query="x"), Batch(mentions=batch))
        labels = {str(n): label for n, (_, _, label) in enumerate(items)}
        store.add_scores(
            [
                Score(
                    mention_id=p.id,
                    model="m@1",
                    scored_at=NOW,
                    sentiment=Sentiment(
                        label=labels[p.mention.external_id],  # type: ignore[arg-type]
                        probabilities={"negative": 0.5, "neutral": 0.2, "positive": 0.3},
                        anger=0.4,
                    ),
                )
                for p in store.unscored("m@1", 100_000)
            ]
        )
        from listener.store.watermarks import SqlWatermarks

        SqlWatermarks(app.engine).set(f"spikes:{AURORA}", NOW - timedelta(hours=8))
        counts = app.detect_spikes()
        assert counts["spikes"] >= 1
        spike = next(a for a in app.outbox.list(kind="spike"))
        assert spike.details["window_end"] == (storm_at + timedelta(hours=1)).isoformat()
        assert any("luggage" in d["term"] for d in spike.details["drivers"])
        assert (
            spike.details["top_sources"] == {"twitter": 60}
            or "twitter" in spike.details["top_sources"]
        )
        assert spike.details["examples"]
        assert app.detect_spikes()["spikes"] == 0, "the watermark moved on"
        assert app.trends.spikes(
            AURORA, since=NOW - timedelta(days=1), until=NOW + timedelta(hours=1)
        )


def test_the_daily_report_is_queued_once_per_period_and_sent_through_the_outbox(
    tmp_path: Path,
) -> None:
    import io as _io

    from listener.notifiers.console import ConsoleNotifier

    config = _world(tmp_path)
    with App(load_settings(config)) as app:
        app.upgrade()
        stream = _io.StringIO()
        app.__dict__["notifiers"] = {"console": ConsoleNotifier(stream=stream)}
        assert [p.brand for p in app.report_plans] == [AURORA]
        assert app.reports()["queued"] == 1
        assert app.reports()["queued"] == 0, "the same period is not queued again"
        reports = app.outbox.list(kind="report")
        assert len(reports) == 1
        lines = reports[0].details["lines"]
        assert lines[0].startswith(f"{AURORA}: ") and any("Share of voice" in x for x in lines)
        assert reports[0].dedupe_key.startswith(f"report:{AURORA}:daily:")
        app.dispatch()
        app.dispatch()
        assert stream.getvalue().count("[ALERT report") == 1
        assert "Volume" in stream.getvalue()
