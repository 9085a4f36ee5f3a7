"""The plugin sections of a config: the committed example configs and the demo's load as
before; the old top-level [twitter]/[reddit]/[replay]/[slack] and brands.subreddits /
brands.slack_channel mean the same as the new [sources.*], [notifiers.*], [brands.*] tables;
routing, the dispatch lease and the errors that name what is wrong."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from listener import plugins
from listener.alerting import default_lease
from listener.app import App
from listener.collectors.reddit import RedditBrandOptions, RedditSettings
from listener.config import load_settings, parse_settings
from listener.demo import demo_config
from listener.errors import ConfigError
from listener.notifiers.slack import SlackBrandOptions
from listener.rules import policies_from_settings

ROOT = Path(__file__).resolve().parent.parent
ENV = {
    "TWITTER_BEARER_TOKEN": "tw-token-123",
    "REDDIT_CLIENT_ID": "rid-123",
    "REDDIT_CLIENT_SECRET": "rsecret-123",
    "SLACK_BOT_TOKEN": "xoxb-123456",
}
OLD = """
[twitter]
bearer_token = "t0ken"
[reddit]
client_id = "a"
client_secret = "b"
user_agent = "c"
[slack]
token = "xoxb-1234"
channel = "#social"
[[brands]]
name = "Aurora Air"
query = '"aurora air"'
subreddits = ["travel", "flights"]
slack_channel = "#aurora"
"""
NEW = """
[sources.twitter]
bearer_token = "t0ken"
[sources.reddit]
client_id = "a"
client_secret = "b"
user_agent = "c"
[notifiers.slack]
token = "xoxb-1234"
channel = "#social"
[[brands]]
name = "Aurora Air"
query = '"aurora air"'
[brands.reddit]
subreddits = ["travel", "flights"]
[brands.slack]
channel = "#aurora"
"""


def test_every_built_in_kind_is_found_by_entry_point() -> None:
    assert {"twitter", "reddit", "replay"} <= set(plugins.kinds(plugins.SOURCES))
    assert {"console", "slack", "webhook", "email"} <= set(plugins.kinds(plugins.NOTIFIERS))
    found = {ep.name for ep in plugins.entry_points(group=plugins.SOURCES)}
    assert {"twitter", "reddit", "replay"} <= found, "registered in pyproject.toml"


def test_the_committed_configs_load_as_before() -> None:
    example = load_settings(ROOT / "config" / "example.toml")
    assert list(example.sources()) == ["replay"] and example.notifiers() == {}
    assert example.replay is not None and example.replay.paths[0].endswith("sample/*.jsonl")
    production = load_settings(ROOT / "config" / "production.toml", env=ENV)
    assert list(production.sources()) == ["twitter", "reddit"]
    assert list(production.notifiers()) == ["slack"]
    assert production.slack is not None and production.slack.channel == "#social-alerts"
    assert production.twitter is not None
    assert production.twitter.bearer_token.get_secret_value() == "tw-token-123"
    brand = production.brands[0]
    assert brand.option("reddit") == RedditBrandOptions(subreddits=["travel", "flights"])
    assert brand.option("slack") == SlackBrandOptions(channel="#aurora-air-alerts")


def test_the_demo_config_loads(tmp_path: Path) -> None:
    text = demo_config(
        tmp_path,
        x_url="http://127.0.0.1:1",
        reddit_url="http://127.0.0.1:2",
        slack_url="http://127.0.0.1:3/api",
    )
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    settings = load_settings(path)
    assert set(settings.sources()) >= {"twitter", "reddit"} and "slack" in settings.notifiers()
    policies = policies_from_settings(settings)
    assert policies["Aurora Air"].channel == "#aurora-air"
    app = App(settings)
    reddit = app.query("Nordlys Mobile", "reddit").options
    assert isinstance(reddit, RedditBrandOptions) and reddit.subreddits[0] == "telecom"


def test_old_and_new_sections_mean_the_same() -> None:
    old, new = parse_settings(OLD), parse_settings(NEW)
    assert old.sources() == new.sources() and isinstance(old.sources()["reddit"], RedditSettings)
    assert {n: s.settings for n, s in old.notifiers().items()} == {
        n: s.settings for n, s in new.notifiers().items()
    }
    assert old.brands[0].options == new.brands[0].options
    assert policies_from_settings(old) == policies_from_settings(new)
    policy = policies_from_settings(new)["Aurora Air"]
    assert policy.channel == "#aurora" and policy.options["slack"].channel == "#aurora"
    app = App(new)
    assert app.query("aurora air", "reddit").options.subreddits == ["travel", "flights"]
    assert app.query("aurora air", "twitter").options is None


def test_routing_names_configured_notifiers_only() -> None:
    text = NEW.replace(
        "[[brands]]",
        (
            '[notifiers.ops]\nkind = "webhook"\nurl = "https://hooks.example.com/x"\n'
            'secret = "0123456789abcdef0123"\n[[brands]]\nnotify = ["slack", "ops"]'
        ),
        1,
    )
    settings = parse_settings(text)
    assert [s.kind for s in settings.notifiers().values()] == ["slack", "webhook"]
    assert policies_from_settings(settings)["Aurora Air"].notify == ("slack", "ops")
    with pytest.raises(
        ConfigError, match=r"brands\[0\]\(Aurora Air\)\.notify: no notifier named 'pager'"
    ):
        parse_settings(text.replace('notify = ["slack", "ops"]', 'notify = ["pager"]'))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[sources.myspace]\ninterval = "1m"\n',
            "sources.myspace: unknown source kind (installed:",
        ),
        (
            '[notifiers.pager]\nkind = "pagerduty"\n',
            "notifiers.pager: unknown notifier kind 'pagerduty'",
        ),
        (
            NEW + '[twitter]\nbearer_token = "x"\n',
            "twitter: twitter is already set in [sources.twitter]",
        ),
        (
            NEW.replace("subreddits =", "subredits ="),
            "brands[0](Aurora Air).reddit.subredits: unknown key",
        ),
        (
            OLD.replace('subreddits = ["travel", "flights"]', "subreddits = 3"),
            "brands[0](Aurora Air).subreddits: Input should be a valid list",
        ),
        (
            NEW.replace('bearer_token = "t0ken"', ""),
            "sources.twitter.bearer_token: required key is missing",
        ),
        (
            '[notifiers.ops]\nkind = "webhook"\nurl = "https://h.example/x"\nsecret = "short"\n',
            "notifiers.ops.secret:",
        ),
        ("[storage]\nsource_sections = 1\n", "storage.source_sections: unknown key"),
    ],
)
def test_mistakes_name_the_key(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(text, file="l.toml")
    assert expected in str(caught.value) and str(caught.value).startswith("l.toml: ")


def test_the_dispatch_lease_is_configured_or_follows_the_notifiers() -> None:
    settings = parse_settings(NEW + '[jobs.dispatch]\ninterval = "5s"\nlease = "90s"\n')
    assert settings.jobs.dispatch.lease == timedelta(seconds=90)
    app = App(
        parse_settings(NEW.replace('channel = "#social"', 'channel = "#social"\ntimeout = "20s"'))
    )
    assert default_lease(app.notifiers.values()) == timedelta(seconds=70)
    assert default_lease([]) == timedelta(seconds=50)
