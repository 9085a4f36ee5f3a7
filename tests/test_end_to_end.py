"""`listener once` against the X, Reddit, Bluesky, Mastodon and Slack emulators, through the real
tweepy, praw, atproto, Mastodon.py and slack-sdk clients: every seeded mention of the configured
brands stored exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from listener.cli import main
from listener.collectors.mastodon import html_to_text
from listener.demo import BRANDS, MASTODON_ACCOUNTS
from listener.emulators.bluesky import BlueskyEmulator
from listener.emulators.corpus import sample_path
from listener.emulators.mastodon import MastodonEmulator
from listener.emulators.reddit import RedditEmulator
from listener.emulators.slack import SlackEmulator
from listener.emulators.twitter import TwitterEmulator
from listener.query import matches, parse
from listener.store.db import connect
from listener.store.schema import mentions

TOKEN, REDDIT_ID, REDDIT_SECRET, SLACK_TOKEN = "x-token-e2e", "r-id-e2e", "r-secret-e2e", "xoxb-e2e"
BSKY_PASSWORD, MASTODON_TOKEN = "bsky-pw-e2e", "masto-token-e2e"
QUERIES = (
    '("Aurora Air" OR @AuroraAir OR #AuroraAir OR AuroraAir) -purifier -borealis',
    '("Nordlys Mobile" OR @NordlysMobile OR #NordlysMobile OR Nordlys) -festival',
)
Emulators = tuple[TwitterEmulator, RedditEmulator, SlackEmulator, BlueskyEmulator, MastodonEmulator]


@pytest.fixture()
def emulators() -> Iterator[Emulators]:
    x = TwitterEmulator.from_jsonl(sample_path("twitter.jsonl"), bearer_token=TOKEN)
    reddit = RedditEmulator.from_jsonl(
        sample_path("reddit.jsonl"), client_id=REDDIT_ID, client_secret=REDDIT_SECRET
    )
    slack = SlackEmulator(token=SLACK_TOKEN, channels=("#social", "#aurora-air", "#nordlys-mobile"))
    bluesky = BlueskyEmulator.from_jsonl(
        sample_path("bluesky.jsonl"), handle="e2e.bsky.social", password=BSKY_PASSWORD
    )
    mastodon = MastodonEmulator.from_jsonl(
        sample_path("mastodon.jsonl"), tokens={**MASTODON_ACCOUNTS, MASTODON_TOKEN: "e2e"}
    )
    with x, reddit, slack, bluesky, mastodon:
        yield x, reddit, slack, bluesky, mastodon


def _fediverse(bluesky: BlueskyEmulator, mastodon: MastodonEmulator) -> dict[str, int]:
    """What Bluesky and Mastodon should give: the posts matching a brand query, and on Mastodon
    also what the brands' hashtags and accounts' mentions bring (kept whole)."""
    queries = [parse(q) for q in QUERIES]
    posts = {
        p["uri"]
        for p in bluesky.posts
        if any(matches(q, p["record"]["text"], p["record"]["langs"][0]) for q in queries)
    }
    statuses = set()
    for s in mastodon.statuses:
        tags = {t["name"].casefold() for t in s["tags"]}
        named = {m["acct"] for m in s["mentions"]}
        if (
            any(matches(q, html_to_text(s["content"]), s["language"]) for q in queries)
            or tags & {"auroraair", "nordlysmobile"}
            or named & {"AuroraAir", "NordlysMobile"}
        ):
            statuses.add(s["uri"])
    return {"bluesky": len(posts), "mastodon": len(statuses)}


def _expected(x: TwitterEmulator, reddit: RedditEmulator) -> int:
    queries = [parse(q) for q in QUERIES]
    tweets = sum(any(matches(q, t["text"]) for q in queries) for t in x.tweets)
    texts = [
        " ".join(
            filter(None, (t["data"].get("title"), t["data"].get("selftext"), t["data"].get("body")))
        )
        for t in reddit.things
    ]
    return tweets + sum(any(matches(q, text) for q in queries) for text in texts)


def test_once_against_emulators_stores_every_mention_once(
    tmp_path: Path,
    tiny_model_dir: Path,
    emulators: Emulators,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x, reddit, slack, bluesky, mastodon = emulators
    monkeypatch.setenv("E2E_X", TOKEN)
    monkeypatch.setenv("E2E_RID", REDDIT_ID)
    monkeypatch.setenv("E2E_RSECRET", REDDIT_SECRET)
    monkeypatch.setenv("E2E_SLACK", SLACK_TOKEN)
    monkeypatch.setenv("E2E_BSKY", BSKY_PASSWORD)
    monkeypatch.setenv("E2E_MASTODON", MASTODON_TOKEN)
    config = tmp_path / "e2e.toml"
    config.write_text(
        f"""
[storage]
url = "sqlite:///{tmp_path / "e2e.db"}"
[model]
name = "{tiny_model_dir}"
quantize = false
[twitter]
bearer_token = "${{E2E_X}}"
api_base = "{x.base_url}"
[reddit]
client_id = "${{E2E_RID}}"
client_secret = "${{E2E_RSECRET}}"
user_agent = "listener-tests"
api_base = "{reddit.base_url}"
auth_base = "{reddit.base_url}"
limit = 500
[sources.bluesky]
handle = "e2e.bsky.social"
app_password = "${{E2E_BSKY}}"
api_base = "{bluesky.base_url}"
backfill = "4d"
[sources.mastodon]
instance = "{mastodon.base_url}"
access_token = "${{E2E_MASTODON}}"
[slack]
token = "${{E2E_SLACK}}"
channel = "#social"
api_base = "{slack.api_url}"
{BRANDS}""",
        encoding="utf-8",
    )
    runner = CliRunner()
    first = runner.invoke(main, ["--config", str(config), "--log-level", "DEBUG", "once"])
    assert first.exit_code == 0, first.output
    fediverse = _fediverse(bluesky, mastodon)
    expected = _expected(x, reddit) + sum(fediverse.values())
    assert expected >= 400
    added = sum(
        int(part.split("=")[1])
        for part in first.stdout.split()
        if part.startswith("collect.added=")
    )
    assert added == expected, first.stdout
    assert "failed_jobs" not in first.stdout
    for secret in (TOKEN, REDDIT_SECRET, SLACK_TOKEN, BSKY_PASSWORD, MASTODON_TOKEN):
        assert secret not in first.output

    second = runner.invoke(main, ["--config", str(config), "once"])
    assert second.exit_code == 0, second.output
    assert "collect.added=0" in second.stdout and "score.scored=0" in second.stdout
    engine = connect(f"sqlite:///{tmp_path / 'e2e.db'}")
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(mentions)).scalar_one()
        by_source = dict(
            conn.execute(select(mentions.c.source, func.count()).group_by(mentions.c.source)).all()
        )
    engine.dispose()
    assert total == expected
    assert by_source["twitter"] > 200 and by_source["reddit"] > 50
    assert by_source["bluesky"] == fediverse["bluesky"] > 50
    assert by_source["mastodon"] == fediverse["mastodon"] > 50
