"""The X and Reddit emulators speak the wire format (checked with plain HTTP)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timedelta

import requests

from listener.emulators.base import Fault
from listener.emulators.corpus import parse_x_time, read_jsonl, sample_path
from listener.emulators.reddit import TOKEN_PATH, RedditEmulator
from listener.emulators.twitter import SEARCH_PATH, TwitterEmulator, snowflake_time

X_AUTH = {"Authorization": "Bearer t0ken"}


def test_x_search_shape_headers_and_pagination() -> None:
    with TwitterEmulator.from_jsonl(sample_path("twitter.jsonl"), bearer_token="t0ken") as emu:
        params = {
            "query": "@AuroraAir OR #AuroraAir",
            "max_results": "10",
            "expansions": "author_id",
            "tweet.fields": "created_at,public_metrics",
            "user.fields": "public_metrics",
        }
        first = requests.get(emu.base_url + SEARCH_PATH, params=params, headers=X_AUTH, timeout=5)
        page = first.json()
        assert first.status_code == 200 and int(first.headers["x-rate-limit-remaining"]) == 449
        assert int(first.headers["x-rate-limit-reset"]) > time.time()
        assert page["meta"]["result_count"] == 10 and page["meta"]["next_token"]
        tweet = page["data"][0]
        assert isinstance(tweet["id"], str) and set(tweet) == {
            "id",
            "text",
            "edit_history_tweet_ids",
            "created_at",
            "public_metrics",
            "author_id",
        }
        assert page["meta"]["newest_id"] == tweet["id"]
        assert {u["id"] for u in page["includes"]["users"]} >= {
            t["author_id"] for t in page["data"]
        }
        second = requests.get(
            emu.base_url + SEARCH_PATH,
            params={**params, "next_token": page["meta"]["next_token"]},
            headers=X_AUTH,
            timeout=5,
        ).json()
        assert int(second["data"][0]["id"]) < int(page["data"][-1]["id"])
        assert len(emu.received(SEARCH_PATH)) == 2


def test_x_errors_are_problem_json() -> None:
    with TwitterEmulator(bearer_token="t0ken") as emu:
        denied = requests.get(
            emu.base_url + SEARCH_PATH,
            params={"query": "x"},
            headers={"Authorization": "Bearer nope"},
            timeout=5,
        )
        assert denied.status_code == 401 and "www-authenticate" in denied.headers
        assert denied.json()["title"] == "Unauthorized" and denied.json()["status"] == 401
        bad = requests.get(
            emu.base_url + SEARCH_PATH,
            params={"query": "x", "max_results": "500"},
            headers=X_AUTH,
            timeout=5,
        )
        assert bad.status_code == 400 and "max_results" in bad.json()["errors"][0]["message"]
        empty = requests.get(
            emu.base_url + SEARCH_PATH, params={"query": "x"}, headers=X_AUTH, timeout=5
        ).json()
        assert empty == {"meta": {"result_count": 0}}


def test_x_rate_limit_window_runs_out() -> None:
    with TwitterEmulator(bearer_token="t0ken", rate_limit=2) as emu:
        codes = [
            requests.get(
                emu.base_url + SEARCH_PATH, params={"query": "x"}, headers=X_AUTH, timeout=5
            ).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]


def test_reddit_token_listing_escaping_and_headers() -> None:
    with RedditEmulator.from_jsonl(
        sample_path("reddit.jsonl"), client_id="app", client_secret="s3cret"
    ) as emu:
        denied = requests.post(
            emu.base_url + TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            auth=("app", "wrong"),
            timeout=5,
        )
        assert denied.status_code == 401
        token = requests.post(
            emu.base_url + TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            auth=("app", "s3cret"),
            timeout=5,
        ).json()
        assert token["token_type"] == "bearer" and token["expires_in"] == 86400
        no_token = requests.get(emu.base_url + "/r/telecom/comments", timeout=5)
        assert no_token.status_code == 401 and "www-authenticate" in no_token.headers
        auth = {"Authorization": f"bearer {token['access_token']}"}
        raw = requests.get(
            emu.base_url + "/r/telecom/comments",
            params={"limit": "100", "raw_json": "1"},
            headers=auth,
            timeout=5,
        )
        escaped = requests.get(
            emu.base_url + "/r/telecom/comments", params={"limit": "100"}, headers=auth, timeout=5
        ).json()
        assert {"x-ratelimit-used", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(
            raw.headers
        )
        listing = raw.json()
        assert listing["kind"] == "Listing" and all(
            c["kind"] == "t1" for c in listing["data"]["children"]
        )
        bodies = [c["data"]["body"] for c in listing["data"]["children"]]
        assert any("& on" in b for b in bodies)
        assert any("&amp; on" in c["data"]["body"] for c in escaped["data"]["children"])
        page = requests.get(
            emu.base_url + "/r/travel+aviation/new",
            params={"limit": "5", "raw_json": "1"},
            headers=auth,
            timeout=5,
        ).json()
        after = page["data"]["after"]
        assert after == page["data"]["children"][-1]["data"]["name"]
        nxt = requests.get(
            emu.base_url + "/r/travel+aviation/new",
            params={"limit": "5", "after": after},
            headers=auth,
            timeout=5,
        ).json()
        assert (
            nxt["data"]["children"][0]["data"]["created_utc"]
            <= page["data"]["children"][-1]["data"]["created_utc"]
        )


def test_faults_are_injected_once_and_requests_recorded() -> None:
    with TwitterEmulator(bearer_token="t0ken") as emu:
        emu.inject(Fault(path_prefix=SEARCH_PATH, status=503, body=b"{}", after=1))
        codes = [
            requests.get(
                emu.base_url + SEARCH_PATH, params={"query": "x"}, headers=X_AUTH, timeout=5
            ).status_code
            for _ in range(3)
        ]
        assert codes == [200, 503, 200]
        assert [r.param("query") for r in emu.received(SEARCH_PATH)] == ["x", "x", "x"]


def test_sample_corpus_is_big_and_shifted_to_now() -> None:
    tweets = list(read_jsonl(sample_path("twitter.jsonl")))
    things = list(read_jsonl(sample_path("reddit.jsonl")))
    assert len(tweets) + len(things) >= 400
    with TwitterEmulator.from_jsonl(sample_path("twitter.jsonl")) as emu:
        newest = max(t["created_at"] for t in emu.tweets)
        assert newest > time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 300))
        assert json.dumps(emu.tweets[0], ensure_ascii=False)


def test_sample_ids_move_with_created_at_as_x_snowflakes_do() -> None:
    """X ids encode their creation time and recent search refuses a since_id older than 7 days:
    the sample moved to now gets ids of its new times, so the demo's second poll is accepted."""
    seeded = list(read_jsonl(sample_path("twitter.jsonl")))
    with TwitterEmulator.from_jsonl(sample_path("twitter.jsonl"), bearer_token="t0ken") as emu:
        tweets = sorted(emu.tweets, key=lambda t: int(t["id"]))
        for tweet in tweets:
            created = parse_x_time(tweet["created_at"])
            assert created <= snowflake_time(int(tweet["id"])) < created + timedelta(seconds=1)
            assert tweet["edit_history_tweet_ids"] == [tweet["id"]]
        assert [t["created_at"] for t in tweets] == sorted(t["created_at"] for t in tweets)
        ids = {t["id"] for t in tweets}
        assert len(ids) == len(seeded)
        replies = [t for t in tweets if t.get("referenced_tweets")]
        assert replies and all(
            t["conversation_id"] in ids and t["referenced_tweets"][0]["id"] in ids for t in replies
        )
        assert [(t["text"], t["author"]) for t in tweets] == [
            (t["text"], t["author"]) for t in sorted(seeded, key=lambda t: int(t["id"]))
        ]
        since_id = max(ids, key=int)
        answer = requests.get(
            emu.base_url + SEARCH_PATH,
            params={"query": "#AuroraAir", "since_id": since_id},
            headers=X_AUTH,
            timeout=5,
        )
        assert answer.status_code == 200, answer.text


def test_launcher_serves_the_sample() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "listener.emulators", "twitter"], stdout=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        base = line.split(" on ")[1].split()[0]
        answer = requests.get(
            base + SEARCH_PATH,
            params={"query": "#AuroraAir"},
            headers={"Authorization": "Bearer emulator-bearer-token"},
            timeout=5,
        )
        assert answer.status_code == 200 and answer.json()["meta"]["result_count"] == 10
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_x_malformed_pages_on_demand_and_the_7_day_window() -> None:
    from datetime import UTC, datetime, timedelta

    from listener.emulators.corpus import format_x_time
    from listener.emulators.twitter import snowflake

    now = datetime.now(UTC)
    old, recent = now - timedelta(days=8), now - timedelta(hours=1)
    tweets = [
        {"id": snowflake(at), "text": "#AuroraAir", "created_at": format_x_time(at)}
        for at in (old, recent)
    ]
    with TwitterEmulator(tweets, bearer_token="t0ken") as emu:
        search = emu.base_url + SEARCH_PATH
        emu.malformed_pages(2, after=1)
        answers = [
            requests.get(search, params={"query": "#AuroraAir"}, headers=X_AUTH, timeout=5)
            for _ in range(4)
        ]
        assert [a.status_code for a in answers] == [200] * 4
        whole, cut = answers[0].content, answers[1].content
        assert whole.startswith(cut) and len(cut) == len(whole) // 2 and answers[2].content == cut
        assert "x-rate-limit-remaining" in answers[1].headers and answers[3].content == whole
        assert [t["id"] for t in answers[0].json()["data"]] == [tweets[1]["id"]]  # 7 days only
        stale = requests.get(
            search,
            params={"query": "#AuroraAir", "since_id": tweets[0]["id"]},
            headers=X_AUTH,
            timeout=5,
        )
        assert stale.status_code == 400
        [error] = stale.json()["errors"]
        assert error["parameters"] == {"since_id": [tweets[0]["id"]]}
        assert error["message"].startswith(f"Invalid 'since_id':'{tweets[0]['id']}'. 'since_id'")


def test_reddit_listings_page_back_with_before_and_stop_at_the_cap() -> None:
    things = [
        {
            "kind": "t3",
            "data": {"name": f"t3_{i}", "subreddit": "telco", "created_utc": 1000.0 + i},
        }
        for i in range(30)
    ]
    with RedditEmulator(things, client_id="app", client_secret="s3cret", listing_cap=20) as emu:
        token = requests.post(
            emu.base_url + TOKEN_PATH,
            data={"grant_type": "client_credentials"},
            auth=("app", "s3cret"),
            timeout=5,
        ).json()["access_token"]

        def names(**params: str) -> tuple[list[str], str | None, str | None]:
            data = requests.get(
                emu.base_url + "/r/telco/new",
                params=params,
                headers={"Authorization": f"bearer {token}"},
                timeout=5,
            ).json()["data"]
            return [c["data"]["name"] for c in data["children"]], data["after"], data["before"]

        assert names(limit="15") == ([f"t3_{i}" for i in range(29, 14, -1)], "t3_15", None)
        assert names(limit="15", after="t3_15") == (
            [f"t3_{i}" for i in range(14, 9, -1)],
            None,
            "t3_14",
        )
        assert names(limit="3", before="t3_20") == (["t3_23", "t3_22", "t3_21"], "t3_21", "t3_23")
        assert names(limit="3", before="t3_9") == ([], None, None)  # beyond the cap
