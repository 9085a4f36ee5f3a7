"""End to end in headless Chromium: ``listener dashboard`` over a seeded SQLite database.

Debian's chromium (/usr/bin/chromium, installed by scripts/setup) driven by Playwright for
Python. Without chromium the test is skipped, except under CI, where it fails. The screenshot
it takes is kept in tests/artifacts/ (its path is printed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from listener.domain import Batch, BrandQuery, Mention, NewAlert, Score, Sentiment
from listener.store.db import connect, upgrade
from listener.store.outbox import SqlOutbox
from listener.store.sql import SqlStore

TOKEN = "e2e-dashboard-token-5f1c0a9b7d"
ARTIFACTS = Path(__file__).with_name("artifacts")
BRAND = BrandQuery(brand="Aurora Air", query="aurora")
NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    message = "chromium is not installed (scripts/setup installs Debian's chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    from listener.dashboard.serve import bind

    sock = bind("127.0.0.1", 0)
    port = int(sock.getsockname()[1])
    sock.close()
    return port


# (source, external id, text, label, anger, language, minutes ago)
SEEDED = [
    ("twitter", "t1", "Lost my luggage AGAIN, never flying Aurora Air", "negative", 0.92, "en", 50),
    ("reddit", "r1", "Aurora Air zgubili mój bagaż, obsługa milczy", "negative", 0.81, "pl", 110),
    ("twitter", "t2", "Aurora Air crew were lovely today", "positive", 0.02, "en", 170),
    ("twitter", "t3", "Aurora Air flight on time, nothing special", "neutral", 0.05, "en", 230),
    ("reddit", "r2", "Aurora Air delayed five hours with no info", "negative", 0.35, "en", 290),
]


@dataclass
class Seeded:
    ids: dict[str, int]
    """external id -> mention id"""


def _seed(url: str) -> Seeded:
    engine = connect(url)
    upgrade(engine)
    store = SqlStore(engine)
    for source in ("twitter", "reddit"):
        mentions = [
            Mention(
                source=source,
                external_id=ext,
                brand=BRAND.brand,
                text=text,
                author=f"user_{ext}",
                created_at=NOW - timedelta(minutes=ago),
                url=f"https://{source}.example/{ext}",
                lang=lang,
                author_reach=1000,
                raw={"id": ext},
            )
            for src, ext, text, _, _, lang, ago in SEEDED
            if src == source
        ]
        store.add_batch(source, BRAND, Batch(mentions=mentions))
    ids = {ext: store.find_mention(src, ext).id for src, ext, *_ in SEEDED}  # type: ignore[union-attr]
    scores, alerts = [], []
    for _, ext, _, label, anger, lang, _ in SEEDED:
        probs = {"negative": 0.05, "neutral": 0.05, "positive": 0.05, label: 0.9}
        sentiment = Sentiment(label=label, probabilities=probs, anger=anger, lang=lang)  # type: ignore[arg-type]
        scores.append(
            Score(mention_id=ids[ext], model="test@1", sentiment=sentiment, scored_at=NOW)
        )
        if anger > 0.6:
            alerts.append(
                NewAlert(
                    kind="mention",
                    brand=BRAND.brand,
                    dedupe_key=f"mention:{ids[ext]}",
                    reason=f"anger {anger:.2f} >= 0.60",
                    mention_id=ids[ext],
                )
            )
    store.add_scores(scores, alerts)
    outbox = SqlOutbox(engine)
    first = next(a for a in outbox.list(brand=BRAND.brand) if a.mention_id == ids["t1"])
    outbox.ack(first.id, by="ana", at=datetime.now(UTC) + timedelta(minutes=7))
    engine.dispose()
    return Seeded(ids=ids)


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[str, Seeded, Path]]:
    database = tmp_path / "listener.db"
    seeded = _seed(f"sqlite:///{database}")
    port = _free_port()
    config = tmp_path / "listener.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{database}"\n'
        f'[dashboard]\nport = {port}\ntoken = "${{LISTENER_DASHBOARD_TOKEN}}"\n'
        '[[brands]]\nname = "Aurora Air"\nquery = "aurora"\ncompetitors = ["Nordlys Mobile"]\n'
        '[[brands]]\nname = "Nordlys Mobile"\nquery = "nordlys"\n',
        encoding="utf-8",
    )
    log = tmp_path / "dashboard.log"
    env = {**os.environ, "LISTENER_DASHBOARD_TOKEN": TOKEN}
    command = [sys.executable, "-m", "listener", "--config", str(config), "dashboard"]
    with log.open("w") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the dashboard did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield base, seeded, log
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_dashboard_in_chromium(dashboard: tuple[str, Seeded, Path]) -> None:
    from playwright.sync_api import sync_playwright

    base, seeded, log = dashboard
    executable = _chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=executable, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        page = browser.new_page(viewport={"width": 1440, "height": 1000})

        def mention_ids() -> list[int]:
            return [
                int(i)
                for i in page.eval_on_selector_all(
                    "li.mention", "els => els.map(e => e.dataset.id)"
                )
            ]

        def chart(attribute: str) -> int:
            values = page.eval_on_selector_all(
                "svg.chart.volume g.bucket", f"els => els.map(e => e.dataset.{attribute})"
            )
            return sum(int(v) for v in values)

        page.goto(f"{base}/?period=24h")
        # the chart and the angry-mentions list show the seeded data
        assert page.get_attribute("svg.chart.volume", "data-total") == "5"
        assert chart("volume") == 5 and chart("negative") == 3 and chart("positive") == 1
        assert mention_ids() == [seeded.ids["t1"], seeded.ids["r1"], seeded.ids["r2"]]
        first = page.locator(f'li.mention[data-id="{seeded.ids["t1"]}"]')
        assert "Lost my luggage AGAIN" in first.inner_text()
        assert "anger 0.92" in first.inner_text() and "alert pending" in first.inner_text()
        assert page.locator(".kpi#kpi-response .kpi-value").inner_text() != "—"
        assert "anger 0.92" in page.locator("#alerts").inner_text()
        share = page.locator("#share").inner_text()
        assert "Aurora Air" in share and "Nordlys Mobile" in share

        # a filter changes them (the select submits the form by itself)
        with page.expect_navigation():
            page.select_option("#f-source", "reddit")
        assert "source=reddit" in page.url
        assert page.get_attribute("svg.chart.volume", "data-total") == "2"
        assert mention_ids() == [seeded.ids["r1"], seeded.ids["r2"]]
        with page.expect_navigation():
            page.select_option("#f-lang", "pl")
        assert mention_ids() == [seeded.ids["r1"]]
        page.goto(f"{base}/?period=24h")

        # without the token the override is refused and nothing changes
        target = page.locator(f'li.mention[data-id="{seeded.ids["t1"]}"]')
        target.locator("select").select_option("positive")
        with page.expect_navigation() as refused:
            target.locator("button").click()
        assert refused.value is not None and refused.value.status == 401
        assert "a token is required" in page.inner_text("#problem")
        page.goto(f"{base}/?period=24h")
        page.fill("#analyst-token", "not-the-token-at-all-000")
        target.locator("select").select_option("positive")
        with page.expect_navigation() as wrong:
            target.locator("button").click()
        assert wrong.value is not None and wrong.value.status == 403
        page.goto(f"{base}/?period=24h")
        assert chart("negative") == 3 and chart("positive") == 1

        # with the token it changes the trend
        page.fill("#analyst-token", TOKEN)
        page.fill("#analyst-name", "Ana")
        target.locator("select").select_option("positive")
        with page.expect_navigation():
            target.locator("button").click()
        assert "overridden=" in page.url
        notice = f"Mention #{seeded.ids['t1']} is now labelled positive."
        assert page.inner_text("#notice") == notice
        assert chart("negative") == 2 and chart("positive") == 2
        assert mention_ids() == [seeded.ids["r1"], seeded.ids["r2"]]
        assert page.locator("#kpi-negative .kpi-value").inner_text() == "40%"  # 2 of 5

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "dashboard-e2e.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    print(f"\nscreenshot: {shot}")
    assert shot.stat().st_size > 10_000
    assert TOKEN not in log.read_text()
    assert "not-the-token-at-all" not in log.read_text()
