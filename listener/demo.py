"""``listener demo``: the whole pipeline on this machine, nothing external.

Starts the X, Reddit, Bluesky, Mastodon and Slack emulators on 127.0.0.1 with the bundled
multilingual sample corpus, writes a config that points the real tweepy, praw, atproto,
Mastodon.py and slack-sdk clients at them (SQLite and the bundled model), runs every job once
and prints what an analyst and an on-call social media team would see: each brand's trend next
to its competitor with share of voice, what drives its complaints, a PNG chart, the Slack
alerts; and how to open the dashboard.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from listener.app import App
from listener.config import load_settings
from listener.daemon import run_once
from listener.domain import utcnow
from listener.emulators.bluesky import BlueskyEmulator
from listener.emulators.corpus import format_x_time, sample_path
from listener.emulators.mastodon import MastodonEmulator
from listener.emulators.reddit import RedditEmulator
from listener.emulators.slack import SlackEmulator
from listener.emulators.twitter import TwitterEmulator, snowflake

BRANDS = """
[[brands]]
name = "Aurora Air"
query = '("Aurora Air" OR @AuroraAir OR #AuroraAir OR AuroraAir) -purifier -borealis'
subreddits = ["travel", "aviation", "Latvia", "Polska", "lithuania", "Slovenia", "Israel"]
handles = ["AuroraAir"]
slack_channel = "#aurora-air"
competitors = ["Nordlys Mobile"]
mastodon = { hashtags = ["AuroraAir"], mentions = true, access_token = "demo-mastodon-aurora" }

[[brands]]
name = "Nordlys Mobile"
query = '("Nordlys Mobile" OR @NordlysMobile OR #NordlysMobile OR Nordlys) -festival'
subreddits = ["telecom", "Latvia", "Polska", "lithuania", "Slovenia", "Israel"]
handles = ["NordlysMobile"]
slack_channel = "#nordlys-mobile"
competitors = ["Aurora Air"]
mastodon = { hashtags = ["NordlysMobile"], mentions = true, access_token = "demo-mastodon-nordlys" }
"""
TOKENS = {
    "x": "demo-bearer-token",
    "reddit_id": "demo-client",
    "reddit_secret": "demo-secret",
    "slack": "xoxb-demo-token",
    "bluesky": "demo-app-password",
    "mastodon": "demo-mastodon-token",
}
MASTODON_ACCOUNTS = {
    TOKENS["mastodon"]: "listener",
    "demo-mastodon-aurora": "AuroraAir",  # the brands' own accounts ([brands.mastodon])
    "demo-mastodon-nordlys": "NordlysMobile",
}
"""The local emulators' made-up credentials: no real service accepts them, so the demo's
config holds them as they are and ``alerts list``/``alerts ack`` work on it from any shell
(a real config writes ``${ENV_VAR}`` instead)."""


def demo_config(
    workdir: Path,
    *,
    x_url: str,
    reddit_url: str,
    slack_url: str,
    bluesky_url: str | None = None,
    mastodon_url: str | None = None,
) -> str:
    fediverse = ""
    if bluesky_url:
        fediverse += f"""
[sources.bluesky]
handle = "listener.bsky.social"
app_password = "{TOKENS["bluesky"]}"
api_base = "{bluesky_url}"
backfill = "4d"         # the sample spans 3 days
"""
    if mastodon_url:
        fediverse += f"""
[sources.mastodon]
instance = "{mastodon_url}"
access_token = "{TOKENS["mastodon"]}"
"""
    return f"""# written by `listener demo`: the emulators' ports change every run.
# The tokens are the local emulators' made-up ones, not secrets; in a real config write
# bearer_token = "${{TWITTER_BEARER_TOKEN}}" and export the variable (see README).
[storage]
url = "sqlite:///{workdir / "demo.db"}"

[twitter]
bearer_token = "{TOKENS["x"]}"
api_base = "{x_url}"

[reddit]
client_id = "{TOKENS["reddit_id"]}"
client_secret = "{TOKENS["reddit_secret"]}"
user_agent = "listener-demo/0.1"
limit = 500
api_base = "{reddit_url}"
auth_base = "{reddit_url}"

{fediverse}
[slack]
token = "{TOKENS["slack"]}"
channel = "#social-alerts"
api_base = "{slack_url}"

[alerts]
max_age = "6h"          # the sample spans 3 days: alert on the last hours only
{BRANDS}"""


def run_demo(workdir: Path, echo: Callable[[str], None]) -> int:
    """Run the demo in ``workdir`` (its database is kept for `export` or `alerts list`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "demo.db").unlink(missing_ok=True)
    x = TwitterEmulator.from_jsonl(sample_path("twitter.jsonl"), bearer_token=TOKENS["x"])
    reddit = RedditEmulator.from_jsonl(
        sample_path("reddit.jsonl"),
        client_id=TOKENS["reddit_id"],
        client_secret=TOKENS["reddit_secret"],
    )
    slack = SlackEmulator(
        token=TOKENS["slack"],
        channels=("#social-alerts", "#aurora-air", "#nordlys-mobile"),
    )
    bluesky = BlueskyEmulator.from_jsonl(
        sample_path("bluesky.jsonl"), handle="listener.bsky.social", password=TOKENS["bluesky"]
    )
    mastodon = MastodonEmulator.from_jsonl(sample_path("mastodon.jsonl"), tokens=MASTODON_ACCOUNTS)
    with x, reddit, slack, bluesky, mastodon:
        config = workdir / "demo.toml"
        config.write_text(
            demo_config(
                workdir,
                x_url=x.base_url,
                reddit_url=reddit.base_url,
                slack_url=slack.api_url,
                bluesky_url=bluesky.base_url,
                mastodon_url=mastodon.base_url,
            ),
            encoding="utf-8",
        )
        echo(
            f"emulators: X {x.base_url}  Reddit {reddit.base_url}  Bluesky {bluesky.base_url}"
            f"  Mastodon {mastodon.base_url}  Slack {slack.base_url}"
        )
        echo(f"config: {config}  (loading the bundled model; the first run assembles it)")
        with App(load_settings(config)) as app:
            app.upgrade()
            totals = run_once(app)
            echo("once: " + " ".join(f"{k}={v}" for k, v in sorted(totals.items())))
            _report(app, slack, echo)
            seen = len(slack.messages)
            x.add([live_tweet()])
            echo("\n-- an angry customer posts now; the next cycle --")
            again = run_once(app)
            echo("once: " + " ".join(f"{k}={v}" for k, v in sorted(again.items())))
            for message in slack.messages[seen:]:
                echo(f"Slack {message.channel}:\n  " + "\n  ".join(_lines(message.blocks)))
    where = shlex.quote(str(config))
    echo(
        f"\nThe database and config stay in {workdir}; go on with e.g.\n"
        f"  listener --config {where} alerts list\n"
        f"  listener --config {where} trends --brand 'Aurora Air' --since 3d --bucket hour\n"
        f"  listener --config {where} report --brand 'Nordlys Mobile' --since 3d\n"
        f"  listener --config {where} export --brand 'Nordlys Mobile' --format csv\n"
        f"  listener --config {where} dashboard    (then open http://127.0.0.1:8050/)\n"
        "(`once` on this config needs new emulators: run the demo again)"
    )
    failed = any(t["failed_jobs"] or t.every_source_failed for t in (totals, again))
    return 1 if failed else 0


def live_tweet() -> dict[str, object]:
    """A furious Polish tweet from a high-reach author, posted now."""
    now = utcnow()
    tweet_id = snowflake(now)
    return {
        "id": tweet_id,
        "edit_history_tweet_ids": [tweet_id],
        "author_id": "990001",
        "created_at": format_x_time(now),
        "lang": "pl",
        "conversation_id": tweet_id,
        "text": "@NordlysMobile trzeci dzień bez zasięgu, a infolinia rozłącza się po minucie. "
        "Żądam zwrotu pieniędzy i zrywam umowę, NIGDY więcej! <!channel>",
        "public_metrics": {
            "retweet_count": 41,
            "reply_count": 12,
            "like_count": 230,
            "quote_count": 5,
            "bookmark_count": 0,
            "impression_count": 51000,
        },
        "author": {
            "id": "990001",
            "username": "kasia_podroze",
            "name": "Kasia w podróży",
            "verified": True,
            "public_metrics": {
                "followers_count": 48200,
                "following_count": 310,
                "tweet_count": 8800,
                "listed_count": 40,
            },
        },
    }


def _lines(blocks: list[dict[str, Any]]) -> list[str]:
    """The visible text of Block Kit blocks, one line per block."""
    out = []
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict):
            out.append(str(text.get("text", "")))
        for element in block.get("elements", []) or []:
            if isinstance(element, dict) and "text" in element:
                out.append(str(element["text"]))
    return [line.replace("\n", " ") for line in out if line]


def _report(app: App, slack: SlackEmulator, echo: Callable[[str], None]) -> None:
    """What an analyst sees: each brand's trend next to its competitor, share of voice, the
    drivers of its complaints (the trends API over the rollups), and the chart as a PNG."""
    from listener.trends.chart import render_png
    from listener.trends.render import to_table

    now = utcnow()
    since, until = now - timedelta(days=3), now + timedelta(hours=1)
    for query in app.queries:
        brands = [query.brand, *app.competitors(query.brand)]
        trends = app.trends.trends(brands, since=since, until=until, bucket="hour")
        share = app.trends.share_of_voice(brands, since=since, until=until)
        echo(f"\n== {query.brand}: the last 3 days, hourly ==")
        table = to_table(trends, share, filters={"sources": [], "languages": []})
        for line in table.splitlines()[:8]:  # the summary with sparklines; `trends` shows all
            echo("  " + line)
        echo(
            "  share of voice: "
            + " · ".join(
                f"{v.brand} {v.share:.0f}% (net {v.net_sentiment:+.0f})" for v in share.brands
            )
        )
        drivers = app.trends.drivers(
            query.brand,
            since=now - timedelta(hours=12),
            until=until,
            baseline_since=since,
            limit=5,
            examples=1,
        )
        echo("  what drives complaints in the last 12 hours (vs the days before):")
        for d in drivers or []:
            example = d.examples[0] if d.examples else None
            said = (
                f" e.g. {example.source}/@{example.author}: {example.text[:70]!r}"
                if example
                else ""
            )
            echo(
                f"   - “{d.term}” in {d.count} negative mentions (usually {d.baseline_count}){said}"
            )
        if not drivers:
            echo("   (nothing rises against the baseline)")
        path = app.settings.resolve(f"trends-{query.brand.replace(' ', '_')}.png")
        render_png(trends, path, spikes=app.trends.spikes(query.brand, since=since, until=until))
        echo(f"  chart: {path}")
    echo(f"\nSlack received {len(slack.messages)} messages:")
    for message in slack.messages[:8]:
        echo(f"  {message.channel}: {message.text[:110]!r}")
