"""Chaos run: the daemon SIGKILLed and restarted while X, Reddit, Bluesky, Mastodon and Slack
misbehave, then a count of what was lost, duplicated, left unscored or never alerted.

    python scripts/chaos.py [--db sqlite|postgresql] [--mentions 10000] [--kills 20] [--seed 1]
                            [--model tiny|bundled|DIR] [--workdir DIR]

Everything runs on 127.0.0.1: the project's emulators (X, Reddit, Bluesky, Mastodon, Slack) in
this process and
``python -m listener --config CFG run`` as a child process (SQLite in the work folder, or a fresh
PostgreSQL database on 127.0.0.1:5432, created and dropped by the run). ``--mentions`` new
mentions of two brands (texts of the emulators' sample corpora, one in ten made angry by
shouting) are published to X (1/2), Reddit (1/5), Bluesky and Mastodon (3/20 each) at a steady
pace while

- the daemon is SIGKILLed ``--kills`` times, each at a random moment after it came up (up to
  twice the mean uptime), and restarted at once; every other kill is armed on Slack: it lands
  right after Slack's answer to the next post, before the daemon can record that post (the
  one window where a repeated Slack post is tolerated: at most one per such kill);
- faults are injected in rounds of ~30 s: X, Reddit, Bluesky and Mastodon 429 storms with their
  rate-limit headers, 5xx, malformed JSON pages; Slack 5xx, 429, down (connection refused), slow
  (answers after the client's timeout) and HTML pages with HTTP 200.

Then the faults stop, the daemon is stopped with SIGTERM and a final one runs until every
mention is stored and scored and no alert is pending (bounded by ``--drain-timeout``). Printed:
mentions lost (published, never stored), duplicated (stored twice), scores missing (stored
without a score of the configured model), alerts missed (mentions the angry-mention rule fires
on when their stored scores are judged again with ``listener.rules`` whose alert is not in
Slack, on its own or in a digest), Slack posts duplicated (one alert key in several messages of
the Slack emulator) and the kills that landed between Slack's answer and the commit; also
daemon exits nobody asked for and SIGTERMs not obeyed within 20 s. Exit status 0 when all of
them hold, 1 otherwise; the logs of every daemon start stay in ``--workdir``.

The default model is a tiny random classifier (``tests/factories.py``) with thresholds set for
it (texts that shout fire), so the run is about collection and delivery; ``--model bundled``
uses the bundled model and the default thresholds.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, func, select, text

from listener.app import App
from listener.config import load_settings
from listener.demo import BRANDS
from listener.domain import Sentiment, utcnow
from listener.emulators import bluesky as bsky
from listener.emulators import mastodon as masto
from listener.emulators.base import Fault, Request, Response
from listener.emulators.corpus import format_x_time, read_jsonl, sample_path
from listener.emulators.reddit import RedditEmulator
from listener.emulators.slack import SlackEmulator
from listener.emulators.twitter import SEARCH_PATH, TwitterEmulator, snowflake
from listener.notifiers.slack import EVENT_TYPE
from listener.query import matches, parse
from listener.rules import judge_mention, mention_dedupe_key, policies_from_settings
from listener.store.db import connect
from listener.store.schema import alerts, mentions, scores
from listener.store.sql import SqlStore

REPO = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get(
    "LISTENER_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SECRETS = {
    "CHAOS_X_TOKEN": "chaos-x-bearer",
    "CHAOS_REDDIT_ID": "chaos-reddit-id",
    "CHAOS_REDDIT_SECRET": "chaos-reddit-secret",
    "CHAOS_SLACK_TOKEN": "xoxb-chaos-token",
    "CHAOS_BLUESKY_PASSWORD": "chaos-bsky-app-password",
    "CHAOS_MASTODON_TOKEN": "chaos-mastodon-token",
}
QUERIES = {b["name"]: b["query"] for b in tomllib.loads(BRANDS)["brands"]}
SUBREDDITS = {"Aurora Air": ("travel", "aviation"), "Nordlys Mobile": ("telecom", "Latvia")}
CHANNELS = {"Aurora Air": "#aurora-air", "Nordlys Mobile": "#nordlys-mobile"}
SHOUTS = ("NEVER AGAIN!!", "WORST SERVICE EVER!!", "GIVE ME MY MONEY BACK!!", "FIX THIS NOW!!!")
ANGRY_SHARE, HIGH_REACH_SHARE = 0.1, 0.05
SHARES = {"twitter": 0.5, "reddit": 0.2, "bluesky": 0.15, "mastodon": 0.15}
"""Where the published mentions go."""
SLACK_TIMEOUT = 1.0
"""slack.timeout of the run, seconds: a slow Slack answers after it."""
ARM_SECONDS = 15.0
"""How long an armed kill waits for a Slack answer before it lands anyway."""
STOP_SECONDS = 20.0
"""How long a SIGTERMed daemon may take to stop before it counts as hung (and is killed)."""
TINY_THRESHOLDS = """negative_threshold = 0.3
anger_threshold = 0.18
high_reach_negative_threshold = 0.3
high_reach_anger_threshold = 0.14
"""
_REF = re.compile(r"#(\d+)\s*$", re.MULTILINE)


@dataclass(frozen=True, kw_only=True)
class Options:
    db: str = "sqlite"
    mentions: int = 10_000
    kills: int = 20
    seed: int = 1
    model: str = "tiny"
    """'tiny' (built in the work folder unless ``tiny_dir`` is given), 'bundled', or a dir."""
    tiny_dir: Path | None = None
    workdir: Path | None = None
    publish_seconds: float | None = None
    """How long publishing takes (default: 1 s per 40 mentions, at least 10 s)."""
    drain_timeout: float = 240.0
    echo: Callable[[str], None] = print


@dataclass(kw_only=True)
class Report:
    generated: int = 0
    angry: int = 0
    kills: int = 0
    armed_kills: int = 0
    window_kills: int = 0
    in_flight_kills: int = 0
    starts: int = 0
    crashes: list[str] = field(default_factory=list)
    hung_stops: list[str] = field(default_factory=list)
    faults: Counter[str] = field(default_factory=Counter)
    lost: int = 0
    duplicated: int = 0
    phantoms: int = 0
    missing_scores: int = 0
    fired: int = 0
    missed: int = 0
    missed_why: Counter[str] = field(default_factory=Counter)
    posted: int = 0
    digests: int = 0
    slack_duplicates: int = 0
    chaos_seconds: float = 0.0
    drained: bool = False
    drain_seconds: float = 0.0
    final_exit: int | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.lost == self.duplicated == self.phantoms == self.missing_scores == self.missed == 0
            and self.slack_duplicates <= self.window_kills
            and not self.crashes
            and not self.hung_stops
            and self.final_exit == 0
        )

    def lines(self) -> list[str]:
        why = ", ".join(f"{k} {v}" for k, v in sorted(self.missed_why.items()))
        never = f" (+{self.phantoms} stored that were never published)" if self.phantoms else ""
        return [
            f"mentions lost: {self.lost}",
            f"mentions duplicated: {self.duplicated}{never}",
            f"scores missing: {self.missing_scores}",
            f"alerts missed: {self.missed}{f' ({why})' if why else ''}  [the rule fires on"
            f" {self.fired} stored mentions; Slack got {self.posted} alert messages,"
            f" {self.digests} of them digests]",
            f"Slack posts duplicated: {self.slack_duplicates}",
            f"SIGKILLs between Slack's answer and the commit: {self.window_kills} (duplicates"
            f" allowed: <= {self.window_kills}; {self.kills} SIGKILLs, {self.armed_kills} of them"
            f" armed on a Slack answer; {self.in_flight_kills} with a post awaiting its answer)",
            f"daemon starts: {self.starts}; exits nobody asked for: {len(self.crashes)};"
            f" graceful stops that hung: {len(self.hung_stops)}"
            + "".join(f"\n  {c}" for c in self.crashes + self.hung_stops),
            f"chaos {self.chaos_seconds:.0f} s, final drain {'' if self.drained else 'NOT '}done"
            f" in {self.drain_seconds:.0f} s (final daemon's exit status {self.final_exit});"
            f" whole run {self.seconds:.0f} s",
            f"result: {'OK' if self.ok else 'FAILED'}",
        ]


@dataclass(frozen=True, slots=True)
class Item:
    source: str
    external_id: str
    angry: bool


class Generator:
    """New mentions, published to the source emulators as they are made; each text ends in
    ``#n``, its number, so a copy stored under another id would show."""

    def __init__(self, rng: random.Random, world: World) -> None:
        self._rng, self._w = rng, world
        self.texts = corpus_texts()
        self.items: list[Item] = []

    def publish(self, count: int) -> None:
        emulators: dict[str, Any] = {"twitter": self._w.x, "reddit": self._w.reddit}
        emulators |= {"bluesky": self._w.bluesky, "mastodon": self._w.mastodon}
        shares = {s: share for s, share in SHARES.items() if emulators[s] is not None}
        made: dict[str, list[dict[str, Any]]] = {source: [] for source in shares}
        for _ in range(count):
            n, rng = len(self.items), self._rng
            brand = rng.choice(sorted(self.texts))
            angry = rng.random() < ANGRY_SHARE
            body = rng.choice(self.texts[brand]) + (f" {rng.choice(SHOUTS)}" if angry else "")
            body = f"{body} #{n}"
            high = rng.random() < HIGH_REACH_SHARE
            reach = rng.choice((50_000, 120_000)) if high else rng.randint(0, 3000)
            source = rng.choices(list(shares), weights=list(shares.values()))[0]
            if source == "reddit":
                made[source].append(self._thing(n, brand, body, reach))
                identity = made[source][-1]["data"]["name"]
            elif source == "bluesky":
                made[source].append(_post(n, body, reach))
                identity = made[source][-1]["uri"]
            elif source == "mastodon":
                made[source].append(_status(n, body, reach))
                identity = made[source][-1]["uri"]
            else:
                made[source].append(self._tweet(n, body, reach))
                identity = made[source][-1]["id"]
            self.items.append(Item(source, identity, angry))
        for source, items in made.items():
            if items:
                emulators[source].add(items)

    def _tweet(self, n: int, body: str, reach: int) -> dict[str, Any]:
        now = utcnow()
        tweet_id, user = snowflake(now, n), str(700_000 + n)
        return {
            "id": tweet_id,
            "edit_history_tweet_ids": [tweet_id],
            "author_id": user,
            "created_at": format_x_time(now),
            "conversation_id": tweet_id,
            "text": body,
            "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": n % 7},
            "author": {
                "id": user,
                "username": f"customer{n}",
                "name": f"Customer {n}",
                "verified": False,
                "public_metrics": {"followers_count": reach},
            },
        }

    def _thing(self, n: int, brand: str, body: str, reach: int) -> dict[str, Any]:
        sub, kind, ident = (
            self._rng.choice(SUBREDDITS[brand]),
            "t1" if n % 3 == 0 else "t3",
            f"c{n:x}",
        )
        data: dict[str, Any] = {
            "id": ident,
            "name": f"{kind}_{ident}",
            "subreddit": sub,
            "subreddit_name_prefixed": f"r/{sub}",
            "author": f"redditor{n}",
            "author_karma": reach,
            "created_utc": time.time(),
            "permalink": f"/r/{sub}/comments/{ident}/",
            "score": n % 11,
        }
        if kind == "t3":
            data.update(title=body, selftext="", num_comments=0, is_self=True, over_18=False)
        else:
            data.update(body=body, parent_id="t3_chaos", link_id="t3_chaos")
        data["created"] = data["created_utc"]
        return {"kind": kind, "data": data}


def _post(n: int, body: str, reach: int) -> dict[str, Any]:
    """A Bluesky PostView published now (the author's profile says ``reach`` followers)."""
    now = format_x_time(utcnow())
    did = f"did:plc:chaos{n:08d}"
    return {
        "uri": f"at://{did}/app.bsky.feed.post/3chaos{n:08d}",
        "cid": f"bafyreichaos{n}",
        "author": {"did": did, "handle": f"fan{n}.bsky.social", "followersCount": reach},
        "record": {"$type": "app.bsky.feed.post", "text": body, "createdAt": now, "langs": []},
        "indexedAt": now,
        "likeCount": n % 5,
        "repostCount": 0,
        "replyCount": 0,
    }


def _status(n: int, body: str, reach: int) -> dict[str, Any]:
    """A Mastodon Status published now (HTML content, as Mastodon sends it)."""
    now = utcnow()
    sid = masto.status_id(now, n)
    return {
        "id": sid,
        "uri": f"https://chaos.example/users/toot{n}/statuses/{sid}",
        "url": f"https://chaos.example/@toot{n}/{sid}",
        "created_at": format_x_time(now),
        "content": f"<p>{body}</p>",
        "spoiler_text": "",
        "language": None,
        "reblog": None,
        "favourites_count": n % 3,
        "account": {
            "id": str(n),
            "username": f"toot{n}",
            "acct": f"toot{n}@chaos.example",
            "followers_count": reach,
        },
        "tags": [],
        "mentions": [],
    }


def corpus_texts() -> dict[str, list[str]]:
    """Per brand, the sample corpora's texts that match that brand's query only (none with
    ``&<>``, which X and Reddit escape differently, or '#')."""
    parsed = {brand: parse(q) for brand, q in QUERIES.items()}
    texts = [str(t["text"]) for t in read_jsonl(sample_path("twitter.jsonl"))]
    for thing in read_jsonl(sample_path("reddit.jsonl")):
        texts.append(str(thing["data"].get("title") or thing["data"].get("body") or ""))
    out: dict[str, list[str]] = {brand: [] for brand in parsed}
    for t in dict.fromkeys(texts):
        hits = [brand for brand, q in parsed.items() if matches(q, t)]
        if len(hits) == 1 and not set("&<>\n#") & set(t):
            out[hits[0]].append(t)
    return out


class SlackWatch:
    """When the Slack emulator accepted each alert's post, and a SIGKILL armed on its next
    accepting answer (run in the emulator's thread right after the answer is written)."""

    def __init__(self, slack: SlackEmulator) -> None:
        self._slack = slack
        self._lock = threading.Lock()
        self.answered: dict[str, tuple[int, float]] = {}
        """alert key -> (alert id, when the first accepting answer in time was written)."""
        self._armed: Callable[[], None] | None = None
        slack.on_answer(self._on_answer)

    def arm(self, action: Callable[[], None] | None) -> None:
        with self._lock:
            self._armed = action

    def _on_answer(self, request: Request, response: Response) -> None:
        if request.path != "/api/chat.postMessage" or response.status != 200:
            return
        try:
            ts = json.loads(response.body).get("ts")
        except ValueError:
            return
        message = next((m for m in reversed(self._slack.messages) if m.ts == ts), None)
        if message is None or time.monotonic() - message.received_at > SLACK_TIMEOUT:
            return  # refused, or answered after the client gave up (slow)
        payload = (message.metadata or {}).get("event_payload") or {}
        with self._lock:
            if "alert_key" in payload:
                when = (int(payload["alert_id"]), time.monotonic())
                self.answered.setdefault(str(payload["alert_key"]), when)
            action, self._armed = self._armed, None
        if action is not None:
            action()


class Daemon:
    """``python -m listener --config CFG run`` as a child process, one log file per start."""

    def __init__(self, config: Path, env: dict[str, str], logs: Path) -> None:
        self.config, self._env, self._logs = config, env, logs
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._ready = False
        self.starts = 0
        self.killed_at: float | None = None
        """When this process was SIGKILLed by us (monotonic), None if it was not."""
        self.log = logs / "daemon-0.log"

    def start(self) -> None:
        self.starts += 1
        self.log = self._logs / f"daemon-{self.starts}.log"
        cmd = [sys.executable, "-m", "listener", "--config", str(self.config), "run"]
        with open(self.log, "wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=self._env)
        with self._lock:
            self._proc, self.killed_at, self._ready = proc, None, False

    def ready(self) -> bool:
        """The scheduler runs (SIGTERM is handled from then on)."""
        if not self._ready:
            self._ready = "listener running" in self.log.read_text("utf-8", errors="replace")
        return self._ready

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """SIGKILL now (also called from an emulator's thread)."""
        with self._lock:
            if self._proc is not None and self._proc.poll() is None and self.killed_at is None:
                self.killed_at = time.monotonic()
                self._proc.send_signal(signal.SIGKILL)

    def wait(self, timeout: float = 30) -> int | None:
        try:
            return None if self._proc is None else self._proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def terminate(self, timeout: float = STOP_SECONDS) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; the exit status (None: it had to be killed)."""
        if self._proc is None or self._proc.poll() is not None:
            return None if self._proc is None else self._proc.returncode
        self._proc.send_signal(signal.SIGTERM)
        status = self.wait(timeout)
        if status is None:
            self.kill()
            self.wait()
        return status

    def tail(self, lines: int = 4) -> str:
        text = self.log.read_text("utf-8", errors="replace").strip().splitlines()
        return " | ".join(line[:200] for line in text[-lines:])


@dataclass
class World:
    x: TwitterEmulator
    reddit: RedditEmulator
    slack: SlackEmulator
    bluesky: bsky.BlueskyEmulator | None = None
    mastodon: masto.MastodonEmulator | None = None
    """Without them, mentions go to X and Reddit only."""
    slack_back_at: float | None = None
    """While Slack is down: when it comes back (monotonic)."""


def _x_429(w: World) -> None:
    headers = {"x-rate-limit-limit": "450", "x-rate-limit-remaining": "0"}
    headers |= {"x-rate-limit-reset": str(int(time.time()) + 3)}
    body = {"title": "Too Many Requests", "detail": "Too Many Requests", "status": 429}
    headers |= {"content-type": "application/problem+json"}
    w.x.inject(
        Fault(path_prefix=SEARCH_PATH, status=429, headers=headers, body=_json(body), times=4)
    )


def _reddit_429(w: World) -> None:
    headers = {"x-ratelimit-used": "600", "x-ratelimit-remaining": "0.0", "x-ratelimit-reset": "3"}
    body = _json({"message": "Too Many Requests", "error": 429})
    w.reddit.inject(Fault(path_prefix="/r/", status=429, body=body, times=3, headers=headers))


def _bluesky_429(w: World) -> None:
    if w.bluesky is None:
        return
    headers = {"ratelimit-limit": "3000", "ratelimit-remaining": "0"}
    headers |= {"ratelimit-reset": str(int(time.time()) + 3), "content-type": "application/json"}
    body = _json({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"})
    feed = "/xrpc/app.bsky.feed"
    w.bluesky.inject(Fault(path_prefix=feed, status=429, body=body, headers=headers, times=4))


def _mastodon_429(w: World) -> None:
    if w.mastodon is None:
        return
    reset = format_x_time(utcnow() + timedelta(seconds=3))
    headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0"}
    headers |= {"X-RateLimit-Reset": reset, "content-type": "application/json"}
    body = _json({"error": "Too many requests"})
    w.mastodon.inject(Fault(path_prefix="/api/", status=429, body=body, headers=headers, times=3))


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _server_error(status: int) -> Fault:
    return Fault(status=status, body=b"<html><body>upstream error</body></html>", times=1)


def _slack_down(w: World) -> None:
    if w.slack_back_at is None:
        w.slack.stop()
        w.slack_back_at = time.monotonic() + 3


def _on_bluesky(act: Callable[[bsky.BlueskyEmulator], None]) -> Callable[[World], None]:
    def fault(w: World) -> None:
        if w.bluesky is not None:
            act(w.bluesky)

    return fault


def _on_mastodon(act: Callable[[masto.MastodonEmulator], None]) -> Callable[[World], None]:
    def fault(w: World) -> None:
        if w.mastodon is not None:
            act(w.mastodon)

    return fault


FAULTS: dict[str, Callable[[World], None]] = {
    "X 429 storm": _x_429,
    "X 5xx": lambda w: w.x.inject(_server_error(503)),
    "X malformed page": lambda w: w.x.malformed_pages(2),
    "Reddit 429 storm": _reddit_429,
    "Reddit 5xx": lambda w: w.reddit.inject(_server_error(502)),
    "Reddit malformed page": lambda w: w.reddit.inject(
        Fault(path_prefix="/r/", truncate=True, times=2)
    ),
    "Bluesky 429 storm": _bluesky_429,
    "Bluesky 5xx": _on_bluesky(lambda b: b.inject(_server_error(502))),
    "Bluesky malformed page": _on_bluesky(lambda b: b.malformed_pages(2)),
    "Mastodon 429 storm": _mastodon_429,
    "Mastodon 5xx": _on_mastodon(lambda m: m.inject(_server_error(503))),
    "Mastodon malformed page": _on_mastodon(lambda m: m.malformed_pages(masto.SEARCH_PATH, 2)),
    "Slack 5xx": lambda w: w.slack.server_error(503, times=3),
    "Slack 429": lambda w: w.slack.rate_limit(1, times=2),
    "Slack down": _slack_down,
    "Slack slow": lambda w: w.slack.slow(SLACK_TIMEOUT + 1.5),
    "Slack HTML 200": lambda w: w.slack.proxy_page(times=3),
}


def fault_plan(rng: random.Random, seconds: float) -> list[tuple[float, str]]:
    """(seconds from the start, fault): every fault once per round of ~30 s, at a random moment
    in the first 3/4 of the round; the sources' 5xx come first, since their exponential backoff
    counts the 429s before them and would stall a source for minutes."""
    rounds = max(1, round(seconds / 30))
    span = seconds / rounds
    plan = []
    for r in range(rounds):
        for name in FAULTS:
            early = name.endswith(" 5xx") and not name.startswith("Slack")
            plan.append((span * (r + rng.uniform(*((0.02, 0.15) if early else (0.2, 0.75)))), name))
    return sorted(plan)


def config_text(*, url: str, model: str, world: World, tiny: bool) -> str:
    brands = "".join(
        f"""
[[brands]]
name = "{brand}"
query = '{query}'
subreddits = {json.dumps(list(SUBREDDITS[brand]))}
slack_channel = "{CHANNELS[brand]}"
"""
        for brand, query in QUERIES.items()
    )
    return f"""# written by scripts/chaos.py
[storage]
url = "{url}"
[model]
name = "{model}"
{"quantize = false" if tiny else ""}
[twitter]
bearer_token = "${{CHAOS_X_TOKEN}}"
api_base = "{world.x.base_url}"
interval = "1s"
timeout = "5s"
[reddit]
client_id = "${{CHAOS_REDDIT_ID}}"
client_secret = "${{CHAOS_REDDIT_SECRET}}"
user_agent = "listener-chaos/0.1"
api_base = "{world.reddit.base_url}"
auth_base = "{world.reddit.base_url}"
interval = "2s"
limit = 500
timeout = "5s"
{_fediverse(world)}[slack]
token = "${{CHAOS_SLACK_TOKEN}}"
channel = "#social"
api_base = "{world.slack.api_url}"
timeout = "{SLACK_TIMEOUT:g}s"
[alerts]
{TINY_THRESHOLDS if tiny else ""}storm_threshold = 40
storm_window = "1m"
digest_interval = "15s"
retry_initial = "1s"
retry_max = "5s"
[jobs.score]
interval = "2s"
[jobs.dispatch]
interval = "1s"
{brands}"""


def _fediverse(world: World) -> str:
    """The config sections of the Bluesky and Mastodon emulators the world has."""
    text_ = ""
    if world.bluesky is not None:
        text_ += f"""[sources.bluesky]
handle = "chaos.bsky.social"
app_password = "${{CHAOS_BLUESKY_PASSWORD}}"
api_base = "{world.bluesky.base_url}"
interval = "1s"
timeout = "5s"
"""
    if world.mastodon is not None:
        text_ += f"""[sources.mastodon]
instance = "{world.mastodon.base_url}"
access_token = "${{CHAOS_MASTODON_TOKEN}}"
interval = "1s"
timeout = "5s"
"""
    return text_


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    """A fresh database URL: a SQLite file, or a PostgreSQL database dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'chaos.db'}"
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"listener_chaos_{secrets.token_hex(5)}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Chaos:
    """One run: the chaos phase, the final drain, the figures."""

    def __init__(self, options: Options, world: World, daemon: Daemon, engine: Engine) -> None:
        self.o, self.w, self.daemon, self.engine = options, world, daemon, engine
        self.rng = random.Random(options.seed)  # moments: kills, faults
        self.gen = Generator(random.Random(-options.seed), world)
        self.watch = SlackWatch(world.slack)
        self.report = Report()
        self.settings = load_settings(daemon.config, env=SECRETS)
        model = App(self.settings).model_id_without_loading()
        assert model is not None, "a local or bundled model's id is known without loading it"
        self.model = model
        self._judged: set[str] = set()
        self._armed_landed = False

    def chaos(self, publish_seconds: float) -> None:
        """Publish, inject faults and SIGKILL/restart the daemon until all is done (bounded)."""
        o, rng, daemon, w = self.o, self.rng, self.daemon, self.w
        plan = fault_plan(rng, publish_seconds)
        mean_up = max(1.0, 0.8 * publish_seconds / max(o.kills, 1) - 3)
        self.gen.publish(min(20, o.mentions))  # every listing has items at the first poll
        daemon.start()
        started = time.monotonic()
        kill_at = arm_until = None
        while time.monotonic() < started + publish_seconds + 60 * o.kills + 120:
            now = time.monotonic()
            due = round(o.mentions * min(1.0, (now - started) / publish_seconds))
            self.gen.publish(max(0, due - len(self.gen.items)))
            while plan and plan[0][0] <= now - started:
                name = plan.pop(0)[1]
                FAULTS[name](w)
                self.report.faults[name] += 1
            if w.slack_back_at is not None and now >= w.slack_back_at:
                w.slack.restart()
                w.slack_back_at = None
            if not daemon.alive():
                self._reap()
                if len(self.report.crashes) > 3:
                    break  # it does not stay up: the figures below say what that cost
                time.sleep(rng.uniform(0, 0.5))
                daemon.start()
                kill_at = arm_until = None
            elif kill_at is None and self.report.kills < o.kills and daemon.ready():
                kill_at = now + rng.uniform(0.2, 2 * mean_up)
            elif kill_at is not None and now >= kill_at and arm_until is None:
                if self.report.kills % 2 == 1:
                    self.watch.arm(self._armed_kill)
                    arm_until = now + ARM_SECONDS
                else:
                    daemon.kill()
            elif arm_until is not None and now >= arm_until:
                self.watch.arm(None)  # no post came: it lands now, at a random moment
                daemon.kill()
            if len(self.gen.items) >= o.mentions and self.report.kills >= o.kills and not plan:
                break
            time.sleep(0.02)
        self.report.chaos_seconds = time.monotonic() - started

    def _armed_kill(self) -> None:
        self._armed_landed = True
        self.daemon.kill()

    def _reap(self) -> None:
        """The daemon is gone: judge where the kill landed, or record the crash."""
        status, killed_at = self.daemon.wait(), self.daemon.killed_at
        if killed_at is None:
            self.report.crashes.append(f"exit status {status}: {self.daemon.tail()}")
            return
        self.report.kills += 1
        self.report.armed_kills += self._armed_landed
        self._armed_landed = False
        answered = {
            key: alert_id
            for key, (alert_id, at) in list(self.watch.answered.items())
            if at <= killed_at and key not in self._judged
        }
        with self.engine.connect() as conn:
            ids = sorted(set(answered.values()))
            rows = conn.execute(select(alerts.c.id, alerts.c.status).where(alerts.c.id.in_(ids)))
            sent = {int(i) for i, status in rows if status == "sent"}
        self._judged.update(answered)  # a post is judged at the first kill after its answer
        if any(i not in sent for i in answered.values()):
            self.report.window_kills += 1
        for message in reversed(self.w.slack.messages):
            if message.received_at <= killed_at - SLACK_TIMEOUT:
                break
            key = str(((message.metadata or {}).get("event_payload") or {}).get("alert_key"))
            answer = self.watch.answered.get(key)
            if message.received_at <= killed_at and (answer is None or answer[1] > killed_at):
                self.report.in_flight_kills += 1
                break

    def drain(self) -> None:
        """No more faults; a graceful stop, then a final daemon until everything is done."""
        for emulator in (self.w.x, self.w.reddit, self.w.bluesky, self.w.mastodon, self.w.slack):
            if emulator is not None:
                emulator.clear_faults()
        self.w.slack.clear_slow()
        self.watch.arm(None)
        if self.w.slack_back_at is not None:
            self.w.slack.restart()
            self.w.slack_back_at = None
        if self._up():
            status = self.daemon.terminate()
            if status is None:
                self.report.hung_stops.append(f"no exit {STOP_SECONDS:g} s after SIGTERM")
            elif status != 0:
                self.report.crashes.append(f"SIGTERM: exit status {status}: {self.daemon.tail()}")
        else:
            self._reap()  # a kill that landed just now
        started = time.monotonic()
        self.daemon.start()
        while time.monotonic() - started < self.o.drain_timeout:
            time.sleep(1)
            if not self._up():
                self.report.crashes.append(f"final run: {self.daemon.tail()}")
                break
            if self._drained():
                self.report.drained = True
                break
        self.report.drain_seconds = time.monotonic() - started
        self.report.final_exit = self.daemon.terminate()
        if self.report.final_exit is None:
            self.report.hung_stops.append(f"final run: no exit {STOP_SECONDS:g} s after SIGTERM")

    def _up(self, timeout: float = 120) -> bool:
        """Wait until the daemon's scheduler runs (it handles SIGTERM from then on); False if
        the process is gone."""
        deadline = time.monotonic() + timeout
        while self.daemon.alive() and not self.daemon.ready() and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.daemon.alive()

    def _drained(self) -> bool:
        scored = select(scores.c.id).where(
            scores.c.mention_id == mentions.c.id, scores.c.model == self.model
        )
        with self.engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(mentions)).scalar_one()
            unscored = conn.execute(
                select(func.count()).select_from(mentions).where(~scored.exists())
            ).scalar_one()
            unsent = conn.execute(
                select(func.count()).where(alerts.c.status.in_(["pending", "sending"]))
            ).scalar_one()
        return stored >= len(self.gen.items) and unscored == 0 and unsent == 0

    def figures(self) -> None:
        r = self.report
        r.generated, r.angry = len(self.gen.items), sum(i.angry for i in self.gen.items)
        stored = list(SqlStore(self.engine).iter_mentions())
        keys = Counter((m.mention.source, m.mention.external_id) for m in stored)
        refs = Counter(int(ref[-1]) for m in stored if (ref := _REF.findall(m.mention.text)))
        published = {(i.source, i.external_id) for i in self.gen.items}
        r.lost = len(published - set(keys))
        r.duplicated = sum(n - 1 for n in keys.values()) + sum(n - 1 for n in refs.values())
        r.phantoms = len(set(keys) - published)
        with self.engine.connect() as conn:
            found = conn.execute(select(scores).where(scores.c.model == self.model))
            score_rows = {int(row.mention_id): row for row in found}
            by_key = {row.dedupe_key: row for row in conn.execute(select(alerts))}
        by_id = {int(row.id): row for row in by_key.values()}
        messages = [
            (str(p["alert_key"]), int(p["alert_id"]))
            for m in self.w.slack.messages
            if (m.metadata or {}).get("event_type") == EVENT_TYPE
            and "alert_key" in (p := (m.metadata or {}).get("event_payload") or {})
        ]
        posted = {alert_id for _, alert_id in messages}
        digests = [i for i in posted if i in by_id and by_id[i].kind == "digest"]
        r.posted, r.digests = len(messages), len(digests)
        r.slack_duplicates = sum(n - 1 for n in Counter(key for key, _ in messages).values())
        r.missing_scores = sum(1 for m in stored if m.id not in score_rows)
        policies = policies_from_settings(self.settings)
        for m in stored:
            row = score_rows.get(m.id)
            if (
                row is None
                or not judge_mention(m, _sentiment(row), policies[m.mention.brand]).fired
            ):
                continue
            r.fired += 1
            why = _why_missed(by_key.get(mention_dedupe_key(m)), by_id, posted)
            if why:
                r.missed += 1
                r.missed_why[why] += 1


def _sentiment(row: Any) -> Sentiment:
    probabilities = {"negative": row.negative, "neutral": row.neutral, "positive": row.positive}
    return Sentiment(label=row.label, probabilities=probabilities, anger=row.anger, lang=row.lang)


def _why_missed(row: Any, by_id: dict[int, Any], posted: set[int]) -> str | None:
    """None when the mention's alert is in Slack (on its own or in a digest), else why not."""
    if row is None:
        return "no alert row"
    if row.status == "digested":
        digest = by_id.get(int(row.digest_id)) if row.digest_id is not None else None
        if digest is None or digest.status != "sent":
            return "digest not sent"
        return None if int(digest.id) in posted else "digest sent, not in Slack"
    if row.status != "sent":
        return f"alert {row.status}"
    return None if int(row.id) in posted else "sent, not in Slack"


def _stop_slack(world: World) -> None:
    if world.slack_back_at is None:  # not stopped by a 'Slack down' fault right now
        world.slack.stop()


def _model(options: Options, workdir: Path) -> str:
    if options.model == "bundled":
        return "listener-sentiment-ml"
    if options.model != "tiny":
        return options.model
    if options.tiny_dir is not None:
        return str(options.tiny_dir)
    sys.path.insert(0, str(REPO))
    from tests.factories import tiny_model

    labels = {0: "negative", 1: "neutral", 2: "positive"}
    return str(tiny_model(workdir / "tiny-model", labels))


def run(options: Options) -> Report:
    """One chaos run; echoes and returns the figures."""
    echo, began = options.echo, time.monotonic()
    with ExitStack() as stack:
        workdir = options.workdir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        workdir.mkdir(parents=True, exist_ok=True)
        model = _model(options, workdir)
        x = TwitterEmulator(bearer_token=SECRETS["CHAOS_X_TOKEN"], rate_limit=10**9)
        reddit = RedditEmulator(
            client_id=SECRETS["CHAOS_REDDIT_ID"], client_secret=SECRETS["CHAOS_REDDIT_SECRET"]
        )
        slack = SlackEmulator(
            token=SECRETS["CHAOS_SLACK_TOKEN"], channels=("#social", *CHANNELS.values())
        )
        bluesky = bsky.BlueskyEmulator(
            handle="chaos.bsky.social",
            password=SECRETS["CHAOS_BLUESKY_PASSWORD"],
            rate_limit=10**9,
        )
        mastodon = masto.MastodonEmulator(
            tokens={SECRETS["CHAOS_MASTODON_TOKEN"]: "chaos"}, rate_limit=10**9
        )
        world = World(
            x=stack.enter_context(x),
            reddit=stack.enter_context(reddit),
            slack=slack,
            bluesky=stack.enter_context(bluesky),
            mastodon=stack.enter_context(mastodon),
        )
        slack.start()
        stack.callback(_stop_slack, world)
        url = stack.enter_context(database(options.db, workdir))
        config = workdir / "chaos.toml"
        text_ = config_text(url=url, model=model, world=world, tiny=options.model == "tiny")
        config.write_text(text_, encoding="utf-8")
        env = {**os.environ, **SECRETS, "PYTHONUNBUFFERED": "1"}
        upgrade = subprocess.run(
            [sys.executable, "-m", "listener", "--config", str(config), "db", "upgrade"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if upgrade.returncode != 0:
            raise SystemExit(f"chaos: db upgrade failed: {upgrade.stderr.strip()}")
        daemon = Daemon(config, env, workdir)
        stack.callback(daemon.terminate, 10)
        engine = connect(url)
        stack.callback(engine.dispose)
        chaos = Chaos(options, world, daemon, engine)
        publish = options.publish_seconds or max(10.0, options.mentions / 40)
        echo(
            f"chaos: {options.mentions} mentions over {publish:.0f} s, {options.kills} SIGKILLs,"
            f" {options.db}, model {options.model}, seed {options.seed}; logs in {workdir}"
        )
        chaos.chaos(publish)
        chaos.drain()
        chaos.figures()
        report = chaos.report
        report.starts, report.seconds = daemon.starts, time.monotonic() - began
        faults = ", ".join(f"{k} x{v}" for k, v in sorted(report.faults.items()))
        echo(f"published {report.generated} mentions ({report.angry} angry); faults: {faults}")
        for line in report.lines():
            echo(line)
        return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--mentions", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--model", default="tiny", help="tiny (default), bundled, or a model dir")
    parser.add_argument("--workdir", type=Path, help="keep the config, database and logs here")
    parser.add_argument("--publish-seconds", type=float, help="default: 1 s per 40 mentions")
    parser.add_argument("--drain-timeout", type=float, default=240.0, help="seconds")
    args = parser.parse_args(argv)
    if args.mentions < 1 or args.kills < 0:
        parser.error("--mentions must be at least 1 and --kills at least 0")
    options = Options(
        db=args.db,
        mentions=args.mentions,
        kills=args.kills,
        seed=args.seed,
        model=args.model,
        workdir=args.workdir,
        publish_seconds=args.publish_seconds,
        drain_timeout=args.drain_timeout,
    )
    return 0 if run(options).ok else 1


if __name__ == "__main__":
    sys.exit(main())
