"""The Bluesky and Mastodon emulators speak the wire format (checked with plain HTTP)."""

from __future__ import annotations

import base64
import json
import time

import requests

from listener.emulators.bluesky import SEARCH_PATH, SESSION_PATH, BlueskyEmulator
from listener.emulators.corpus import sample_path
from listener.emulators.mastodon import TAG_PATH, MastodonEmulator


def test_bluesky_session_search_errors_and_rate_limit_headers() -> None:
    with BlueskyEmulator.from_jsonl(sample_path("bluesky.jsonl"), rate_limit=4) as emu:
        login = {"identifier": emu.handle, "password": emu.password}
        session = requests.post(emu.base_url + SESSION_PATH, json=login, timeout=5).json()
        assert set(session) >= {"accessJwt", "refreshJwt", "handle", "did"}
        claims = session["accessJwt"].split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        assert payload["exp"] > time.time() and payload["sub"] == session["did"]
        auth = {"Authorization": f"Bearer {session['accessJwt']}"}
        url = emu.base_url + SEARCH_PATH
        answer = requests.get(url, params={"q": "#AuroraAir", "limit": 3}, headers=auth, timeout=5)
        page = answer.json()
        assert answer.headers["ratelimit-limit"] == "4" and answer.headers["ratelimit-policy"]
        assert int(answer.headers["ratelimit-reset"]) > time.time()
        assert page["cursor"] == "3" and len(page["posts"]) == 3 and page["hitsTotal"] > 3
        post = page["posts"][0]
        assert set(post["author"]) == {"did", "handle", "displayName"}  # a ProfileViewBasic
        assert {"text", "createdAt", "langs"} <= set(post["record"])
        assert post["uri"].startswith("at://") and "likeCount" in post and "indexedAt" in post
        bad = requests.get(url, params={"limit": 3}, headers=auth, timeout=5)
        assert bad.status_code == 400 and bad.json()["error"] == "InvalidRequest"
        anonymous = requests.get(url, params={"q": "x"}, timeout=5)
        assert anonymous.status_code == 401
        assert anonymous.json()["error"] == "AuthenticationRequired"
        limited = requests.get(url, params={"q": "x"}, headers=auth, timeout=5)
        assert limited.status_code == 429 and limited.headers["ratelimit-remaining"] == "0"
        assert limited.json() == {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}


def test_mastodon_link_header_rate_limit_headers_and_errors() -> None:
    tokens = {"tok": "AuroraAir"}
    with MastodonEmulator.from_jsonl(sample_path("mastodon.jsonl"), tokens=tokens) as emu:
        auth = {"Authorization": "Bearer tok"}
        url = emu.base_url + TAG_PATH + "AuroraAir"
        first = requests.get(url, params={"limit": 2}, headers=auth, timeout=5)
        statuses = first.json()
        assert first.status_code == 200 and len(statuses) == 2
        assert int(statuses[0]["id"]) > int(statuses[1]["id"])
        assert first.headers["X-RateLimit-Limit"] == "300"
        assert first.headers["X-RateLimit-Reset"].endswith("Z")
        link = first.links
        assert link["next"]["url"].endswith(f"max_id={statuses[1]['id']}")
        assert link["prev"]["url"].endswith(f"min_id={statuses[0]['id']}")
        older = requests.get(link["next"]["url"], headers=auth, timeout=5).json()
        assert int(older[0]["id"]) < int(statuses[1]["id"])
        # min_id: the statuses immediately newer than it, newest first
        oldest = min(int(s["id"]) for s in emu.statuses if "auroraair" in str(s["tags"]).lower())
        newer = requests.get(url, params={"min_id": oldest, "limit": 2}, headers=auth, timeout=5)
        ids = [int(s["id"]) for s in newer.json()]
        tagged = sorted(int(s["id"]) for s in emu.statuses if "auroraair" in str(s["tags"]).lower())
        assert ids == [tagged[2], tagged[1]]
        assert "<p>" in statuses[0]["content"] and statuses[0]["account"]["followers_count"] >= 0
        wrong = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)
        assert wrong.status_code == 401 and wrong.json() == {"error": "The access token is invalid"}
        search = requests.get(
            emu.base_url + "/api/v2/search",
            params={"q": '"Aurora Air" language:lv', "type": "statuses"},
            headers=auth,
            timeout=5,
        ).json()
        assert search["statuses"] and {s["language"] for s in search["statuses"]} == {"lv"}
        mentions = requests.get(
            emu.base_url + "/api/v1/notifications",
            params={"types[]": "mention"},
            headers=auth,
            timeout=5,
        ).json()
        assert mentions and {n["type"] for n in mentions} == {"mention"}
        assert all("AuroraAir" in {m["acct"] for m in n["status"]["mentions"]} for n in mentions)
