"""Benchmark: one poll of 1,000 new mentions (10 pages of 100) from the X API emulator through
the real tweepy collector, stored into a fresh SQLite database. Prints the figures.

    .venv/bin/python scripts/bench_collect.py [--mentions 1000] [--repeat 3]

Baseline: the raw HTTP fetch of the same 10 pages with requests (no tweepy, no parsing, no
store), so the ratio shows what the client, the mapping and the store cost on top of the wire.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from listener.collectors.twitter import TWEET_FIELDS, USER_FIELDS, TwitterCollector
from listener.domain import Batch, BrandQuery
from listener.emulators.corpus import format_x_time
from listener.emulators.twitter import SEARCH_PATH, TwitterEmulator, snowflake

QUERY = BrandQuery(brand="Aurora Air", query='("Aurora Air" OR @AuroraAir OR #AuroraAir) -borealis')
TOKEN = "bench-bearer-token"


def tweets(count: int) -> list[dict[str, Any]]:
    start = datetime.now(UTC) - timedelta(hours=3)
    texts = [
        "@AuroraAir lost my bag again 😡 {i}",
        "Lovely crew on #AuroraAir {i} ✈️",
        "Paldies Aurora Air par lidojumu {i}",
        "תודה ל-Aurora Air על הטיסה {i}",
    ]
    out = []
    for i in range(count):
        at = start + timedelta(seconds=i)
        out.append(
            {
                "id": snowflake(at, i),
                "text": texts[i % 4].format(i=i),
                "created_at": format_x_time(at),
                "author_id": str(500 + i % 50),
                "lang": ["en", "en", "lv", "he"][i % 4],
                "public_metrics": {
                    "like_count": i % 7,
                    "retweet_count": 1,
                    "reply_count": 0,
                    "quote_count": 0,
                },
                "author": {
                    "id": str(500 + i % 50),
                    "username": f"user{i % 50}",
                    "name": "User",
                    "verified": False,
                    "public_metrics": {"followers_count": 100 * (i % 50)},
                },
            }
        )
    return out


def store_batch(db_path: Path, batch: Batch) -> int:
    """Store the batch (mentions + cursor, one transaction) in a fresh SQLite database."""
    from listener.store.db import connect, upgrade
    from listener.store.sql import SqlStore

    engine = connect(f"sqlite:///{db_path}")
    upgrade(engine)
    return SqlStore(engine).add_batch("twitter", QUERY, batch)


def raw_fetch(base_url: str, x_query: str) -> int:
    import requests

    session = requests.Session()
    params: dict[str, Any] = {
        "query": x_query,
        "max_results": 100,
        "tweet.fields": ",".join(TWEET_FIELDS),
        "expansions": "author_id",
        "user.fields": ",".join(USER_FIELDS),
    }
    count = 0
    while True:
        page = session.get(
            base_url + SEARCH_PATH,
            params=params,
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        ).json()
        count += page["meta"]["result_count"]
        if "next_token" not in page["meta"]:
            return count
        params["next_token"] = page["meta"]["next_token"]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mentions", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    pages = -(-args.mentions // 100)
    with (
        TwitterEmulator(tweets(args.mentions), bearer_token=TOKEN, rate_limit=10**6) as emu,
        tempfile.TemporaryDirectory() as tmp,
    ):
        from listener.query import parse, to_twitter

        x_query = to_twitter(parse(QUERY.query))
        raw_fetch(emu.base_url, x_query)  # warm-up: imports, first connection
        totals, collects, stores, raws = [], [], [], []
        for run in range(args.repeat):
            t0 = time.perf_counter()
            collector = TwitterCollector(bearer_token=TOKEN, api_base=emu.base_url, max_pages=pages)
            batch = collector.collect(QUERY, None)
            t1 = time.perf_counter()
            stored = store_batch(Path(tmp) / f"bench{run}.db", batch)
            t2 = time.perf_counter()
            assert len(batch.mentions) == args.mentions and stored == args.mentions, (
                len(batch.mentions),
                stored,
            )
            t3 = time.perf_counter()
            fetched = raw_fetch(emu.base_url, x_query)
            raws.append(time.perf_counter() - t3)
            assert fetched == args.mentions
            collects.append(t1 - t0)
            stores.append(t2 - t1)
            totals.append(t2 - t0)
    best = min(totals)
    print(
        f"poll of {args.mentions} new mentions ({pages} pages) collected + stored in SQLite: "
        f"{best:.3f} s best of {args.repeat} (median {statistics.median(totals):.3f} s; "
        f"collect {min(collects):.3f} s, store incl. schema {min(stores):.3f} s)"
    )
    print(
        f"baseline raw HTTP fetch of the same pages (no parsing, no store): {min(raws):.3f} s "
        f"-> ratio {best / min(raws):.1f}x; target < 2 s: {'OK' if best < 2 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
