"""A source and a notifier from a separate package, registered as entry points of a throwaway
distribution installed into a temporary folder: found by kind, configured with their own
sections (top level and per brand), and run end to end (collect, score, alert, deliver) in
this process and from the ``listener`` command in a fresh one, with no listener file changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from listener import plugins
from listener.app import App
from listener.config import load_settings
from listener.daemon import run_once
from listener.domain import Sentiment
from tests.factories import sentiment

MODULE = '''
"""acme_plugins: a guestbook source and an outfile notifier for listener."""
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pydantic import Field

from listener.config import Duration, NonEmpty, Section
from listener.domain import Batch, Mention
from listener.plugins import NotifierPlugin, PluginContext, SourcePlugin


class GuestbookSettings(Section):
    path: NonEmpty
    interval: Duration = timedelta(minutes=1)


class Board(Section):
    board: NonEmpty


class Guestbook:
    source = "guestbook"

    def __init__(self, path):
        self._path = Path(path)

    def collect(self, query, cursor):
        lines = self._path.read_text(encoding="utf-8").splitlines()
        start = int(cursor or 0)
        board = query.options.board if isinstance(query.options, Board) else None
        mentions = []
        for n, line in enumerate(lines[start:], start=start + 1):
            post = json.loads(line)
            if post["board"] != board:
                continue
            mentions.append(
                Mention(
                    source="guestbook",
                    external_id=str(n),
                    brand=query.brand,
                    text=post["text"],
                    author=post["author"],
                    author_reach=post["followers"],
                    created_at=datetime.now(timezone.utc) - timedelta(minutes=5),
                    url=f"https://guestbook.example/{n}",
                )
            )
        return Batch(mentions=mentions, cursor=str(len(lines)))


def build_guestbook(settings, context):
    return Guestbook(context.resolve(settings.path))


SOURCE = SourcePlugin(
    kind="guestbook", settings=GuestbookSettings, build=build_guestbook, brand_options=Board
)


class OutfileSettings(Section):
    path: NonEmpty


class Tag(Section):
    tag: str = ""


class Outfile:
    def __init__(self, path):
        self._path = path

    def send(self, message):
        line = {
            "alert": message.alert.id,
            "brand": message.alert.brand,
            "tag": message.options.tag if isinstance(message.options, Tag) else None,
            "text": message.mention.mention.text if message.mention else None,
            "anger": message.sentiment.anger if message.sentiment else None,
        }
        with open(self._path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\\n")


def build_outfile(settings, context):
    return Outfile(context.resolve(settings.path))


NOTIFIER = NotifierPlugin(
    kind="outfile", settings=OutfileSettings, build=build_outfile, brand_options=Tag
)
'''

CONFIG = """
[storage]
url = "sqlite:///listener.db"

[model]
name = "{model}"

[sources.guestbook]
path = "guestbook.jsonl"

[notifiers.cx]
kind = "outfile"
path = "alerts.jsonl"

[alerts]
max_age = "30d"

[[brands]]
name = "Aurora Air"
query = "aurora"
[brands.guestbook]
board = "aurora"
[brands.cx]
tag = "aurora-cx"
"""
POSTS = [
    {"board": "aurora", "text": "aurora air lost my bag, so angry", "author": "a", "followers": 5},
    {"board": "aurora", "text": "aurora air was lovely", "author": "b", "followers": 7},
    {"board": "nimbus", "text": "nimbus angry angry", "author": "c", "followers": 9},
]


class KeywordScorer:
    model_id = "keyword@1"

    def score(self, texts: Sequence[str]) -> list[Sentiment]:
        return [
            sentiment("negative", anger=0.9) if "angry" in t else sentiment("positive")
            for t in texts
        ]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder where the throwaway distribution ``acme-listener-plugins`` is installed."""
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "acme_plugins.py").write_text(textwrap.dedent(MODULE), encoding="utf-8")
    info = folder / "acme_listener_plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: acme-listener-plugins\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(
        "[listener.sources]\nguestbook = acme_plugins:SOURCE\n\n"
        "[listener.notifiers]\noutfile = acme_plugins:NOTIFIER\n",
        encoding="utf-8",
    )
    monkeypatch.syspath_prepend(str(folder))
    plugins.refresh()
    yield folder
    sys.modules.pop("acme_plugins", None)
    plugins.refresh()


def _workdir(tmp_path: Path, model: str = "unused") -> Path:
    work = tmp_path / "work"
    work.mkdir()
    (work / "guestbook.jsonl").write_text(
        "".join(json.dumps(p) + "\n" for p in POSTS), encoding="utf-8"
    )
    (work / "listener.toml").write_text(CONFIG.format(model=model), encoding="utf-8")
    return work


def _sent(work: Path) -> list[dict[str, object]]:
    path = work / "alerts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_an_installed_source_and_notifier_run_end_to_end(site: Path, tmp_path: Path) -> None:
    assert "guestbook" in plugins.kinds(plugins.SOURCES)
    assert "outfile" in plugins.kinds(plugins.NOTIFIERS)
    work = _workdir(tmp_path)
    settings = load_settings(work / "listener.toml")
    with App(settings) as app:
        app.upgrade()
        app.__dict__["scorer"] = KeywordScorer()  # the model is not what this test is about
        totals = run_once(app)
        assert totals["collect.added"] == 2  # the nimbus board is not this brand's
        assert totals["score.alerts"] == 1 and totals["dispatch.sent"] == 1
        again = run_once(app)
        assert again["collect.added"] == 0 and again["dispatch.sent"] == 0
    assert _sent(work) == [
        {
            "alert": 1,
            "brand": "Aurora Air",
            "tag": "aurora-cx",
            "text": "aurora air lost my bag, so angry",
            "anger": 0.9,
        }
    ]


def test_the_command_line_finds_them_in_a_fresh_process(
    site: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    work = _workdir(tmp_path, model=str(tiny_model_dir))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.getcwd()])}

    def listener(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "listener", "--config", "listener.toml", *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout + done.stderr

    checked = listener("check-config")
    assert "sources: guestbook" in checked and "alerts: cx" in checked
    assert "collect.added=2" in listener("once")
    listener("alerts", "test")
    assert [line["tag"] for line in _sent(work)][-1] == "aurora-cx"


def test_a_config_naming_an_uninstalled_kind_says_so(tmp_path: Path) -> None:
    work = _workdir(tmp_path)
    from listener.errors import ConfigError

    with pytest.raises(ConfigError, match=r"sources\.guestbook: unknown source kind"):
        load_settings(work / "listener.toml")
