"""Benchmark: end-to-end mentions/s of the daemon (emulators -> stored -> scored -> alerted)
against the standalone scorer on the same texts, in the same run. Prints the figures.

    python scripts/bench_pipeline.py [--db sqlite|postgresql] [--mentions 3000]
                                     [--history 1000000] [--model listener-sentiment-ml]

For each of an empty database and one holding ``--history`` stored and scored mentions
(bulk-loaded: COPY on PostgreSQL, one executemany on SQLite), ``listener run`` starts as a child
process against the X, Reddit and Slack emulators of this process. Once its scheduler runs,
``--mentions`` new mentions (3/4 X, 1/4 Reddit, one in ten shouting: angry) are published at
once; the clock stops when every one of them is stored and scored and no alert is pending or
being sent (posted to the Slack emulator, on its own or in a digest). Then the same texts are
scored here by the same model (``Scorer.score`` in batches of ``[jobs.score] batch_size``,
loaded beforehand), with nothing else running. Target: the pipeline reaches >= 80% of the
standalone scorer's mentions/s with the empty database and with the history.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import chaos  # noqa: E402  (the emulated world and the daemon child process)

from listener.app import App  # noqa: E402
from listener.config import load_settings  # noqa: E402
from listener.domain import utcnow  # noqa: E402
from listener.emulators.reddit import RedditEmulator  # noqa: E402
from listener.emulators.slack import SlackEmulator  # noqa: E402
from listener.emulators.twitter import TwitterEmulator  # noqa: E402
from listener.store.schema import alerts, mentions, score_queue, scores  # noqa: E402

BATCH = 256


def cpu_line() -> str:
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "cpu: unknown"
    model = next(
        (ln.split(":", 1)[1].strip() for ln in info.splitlines() if "model name" in ln), "?"
    )
    flags = set(next((ln for ln in info.splitlines() if ln.startswith("flags")), "").split())
    simd = "avx512_vnni" if "avx512_vnni" in flags else "avx2" if "avx2" in flags else "no avx2"
    return f"cpu: {model}, {os.cpu_count()} logical cores, {simd}"


def config_text(*, url: str, model: str, world: chaos.World) -> str:
    brands = "".join(
        f"""
[[brands]]
name = "{brand}"
query = '{query}'
subreddits = {json.dumps(list(chaos.SUBREDDITS[brand]))}
slack_channel = "{chaos.CHANNELS[brand]}"
"""
        for brand, query in chaos.QUERIES.items()
    )
    return f"""# written by scripts/bench_pipeline.py
[storage]
url = "{url}"
[model]
name = "{model}"
[twitter]
bearer_token = "${{CHAOS_X_TOKEN}}"
api_base = "{world.x.base_url}"
interval = "1s"
[reddit]
client_id = "${{CHAOS_REDDIT_ID}}"
client_secret = "${{CHAOS_REDDIT_SECRET}}"
user_agent = "listener-bench/0.1"
api_base = "{world.reddit.base_url}"
auth_base = "{world.reddit.base_url}"
interval = "1s"
limit = 1000
[slack]
token = "${{CHAOS_SLACK_TOKEN}}"
channel = "#social"
api_base = "{world.slack.api_url}"
[alerts]
storm_threshold = 1000000
[jobs.score]
interval = "1s"
batch_size = {BATCH}
[jobs.dispatch]
interval = "1s"
{brands}"""


def bulk_load(engine: Engine, count: int, model: str) -> float:
    """``count`` stored mentions, each with a score of ``model`` (history, nothing queued)."""
    started = time.perf_counter()
    at = utcnow() - timedelta(days=30)
    step = max(1, 30 * 86400 // max(count, 1))
    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            mention_cols = (
                "id, source, external_id, brand, text, author, author_reach, engagement, url,"
                " created_at, collected_at, raw"
            )
            with cur.copy(f"COPY mentions ({mention_cols}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                for i in range(1, count + 1):
                    when = (at + timedelta(seconds=i * step)).isoformat()
                    copy.write_row(
                        (i, "twitter", f"h{i}", "Aurora Air", f"history mention {i} of aurora air",
                         f"u{i % 5000}", i % 1000, 0, "", when, when, "{}")
                    )  # fmt: skip
            with cur.copy(
                "COPY scores (mention_id, model, label, negative, neutral, positive, anger, lang,"
                " scored_at) FROM STDIN"
            ) as copy:  # type: ignore[attr-defined]
                for i in range(1, count + 1):
                    copy.write_row((i, model, "neutral", 0.1, 0.8, 0.1, 0.0, "en", at.isoformat()))
            cur.execute(f"SELECT setval('mentions_id_seq', {count})")
            raw.commit()
            cur.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
    else:
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()
            base = at.replace(tzinfo=None)
            cur.executemany(
                "INSERT INTO mentions (id, source, external_id, brand, text, author, author_reach,"
                " engagement, url, created_at, collected_at, raw) VALUES"
                " (?, 'twitter', ?, 'Aurora Air', ?, ?, ?, 0, '', ?, ?, '{}')",
                (
                    (i, f"h{i}", f"history mention {i} of aurora air", f"u{i % 5000}", i % 1000,
                     str(base + timedelta(seconds=i * step)), str(base))
                    for i in range(1, count + 1)
                ),
            )  # fmt: skip
            cur.executemany(
                "INSERT INTO scores (mention_id, model, label, negative, neutral, positive, anger,"
                " lang, scored_at) VALUES (?, ?, 'neutral', 0.1, 0.8, 0.1, 0.0, 'en', ?)",
                ((i, model, str(base)) for i in range(1, count + 1)),
            )
            raw.commit()
            cur.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
    return time.perf_counter() - started


def done(engine: Engine, first_id: int, expected: int) -> bool:
    with engine.connect() as conn:
        stored = conn.execute(
            select(func.count()).select_from(mentions).where(mentions.c.id > first_id)
        ).scalar_one()
        queued = conn.execute(select(func.count()).select_from(score_queue)).scalar_one()
        unsent = conn.execute(
            select(func.count()).where(alerts.c.status.in_(["pending", "sending"]))
        ).scalar_one()
    return stored >= expected and queued == 0 and unsent == 0


def pipeline_round(
    args: argparse.Namespace, history: int, workdir: Path
) -> tuple[float, list[str]]:
    """Seconds from publishing to everything stored, scored and alerted; the texts stored."""
    with ExitStack() as stack:
        x = TwitterEmulator(bearer_token=chaos.SECRETS["CHAOS_X_TOKEN"], rate_limit=10**9)
        reddit = RedditEmulator(
            client_id=chaos.SECRETS["CHAOS_REDDIT_ID"],
            client_secret=chaos.SECRETS["CHAOS_REDDIT_SECRET"],
        )
        slack = SlackEmulator(
            token=chaos.SECRETS["CHAOS_SLACK_TOKEN"],
            channels=("#social", *chaos.CHANNELS.values()),
        )
        world = chaos.World(
            x=stack.enter_context(x), reddit=stack.enter_context(reddit), slack=slack
        )
        slack.start()
        stack.callback(slack.stop)
        url = stack.enter_context(chaos.database(args.db, workdir))
        config = workdir / f"bench-{history}.toml"
        config.write_text(config_text(url=url, model=args.model, world=world), encoding="utf-8")
        settings = load_settings(config, env={**os.environ, **chaos.SECRETS})
        app = stack.enter_context(App(settings))
        app.upgrade()
        model_id = app.model_id_without_loading() or args.model
        if history:
            took = bulk_load(app.engine, history, model_id)
            print(f"  bulk-loaded {history:,} scored mentions in {took:.1f} s", flush=True)
        with app.engine.connect() as conn:
            first_id = int(
                conn.execute(select(func.coalesce(func.max(mentions.c.id), 0))).scalar_one()
            )
        env = {**os.environ, **chaos.SECRETS, "PYTHONUNBUFFERED": "1"}
        daemon = chaos.Daemon(config, env, workdir)
        daemon.start()
        stack.callback(daemon.terminate, 30)
        while daemon.alive() and not daemon.ready():
            time.sleep(0.05)
        if not daemon.alive():
            raise SystemExit(f"bench: the daemon exited: {daemon.tail()}")
        generator = chaos.Generator(random.Random(args.seed), x, reddit)
        started = time.perf_counter()
        generator.publish(args.mentions)
        while not done(app.engine, first_id, args.mentions):
            if not daemon.alive():
                raise SystemExit(f"bench: the daemon exited: {daemon.tail()}")
            if time.perf_counter() - started > args.timeout:
                raise SystemExit(f"bench: not done after {args.timeout} s: {daemon.tail()}")
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        daemon.terminate(30)
        with app.engine.connect() as conn:
            texts = list(
                conn.execute(
                    select(mentions.c.text).where(mentions.c.id > first_id).order_by(mentions.c.id)
                ).scalars()
            )
            new_scores = conn.execute(
                select(func.count()).select_from(scores).where(scores.c.mention_id > first_id)
            ).scalar_one()
            sent = conn.execute(
                select(func.count()).where(alerts.c.status.in_(["sent", "digested"]))
            ).scalar_one()
        print(
            f"  pipeline: {len(texts)} mentions stored, {new_scores} scored, {sent} alerts out "
            f"({len(slack.messages)} Slack posts) in {seconds:.2f} s",
            flush=True,
        )
        return seconds, texts


def standalone(model: str, texts: list[str]) -> float:
    from listener.config import ModelSettings
    from listener.scoring.factory import scorer_for

    scorer = scorer_for(ModelSettings(name=model))
    scorer.score(texts[:BATCH])  # warm-up: first-call allocations
    started = time.perf_counter()
    for i in range(0, len(texts), BATCH):
        scorer.score(texts[i : i + BATCH])
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--mentions", type=int, default=3000)
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--model", default="listener-sentiment-ml")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=1200)
    parser.add_argument("--workdir", type=Path, help="keep the configs and daemon logs here")
    args = parser.parse_args()
    if args.mentions < 1 or args.history < 0:
        parser.error("--mentions must be at least 1 and --history at least 0")
    print(cpu_line())
    print(f"load average before: {os.getloadavg()[0]:.1f} (this machine may be shared)")
    print(f"{args.mentions} new mentions, {args.db}, model {args.model}, score batches of {BATCH}")
    ok = True
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.workdir or Path(scratch)
        for history in dict.fromkeys((0, args.history)):
            print(f"database holding {history:,} mentions:", flush=True)
            workdir = Path(tmp) / f"history-{history}"
            workdir.mkdir(parents=True, exist_ok=True)
            seconds, texts = pipeline_round(args, history, workdir)
            alone = standalone(args.model, texts)
            e2e, ref = len(texts) / seconds, len(texts) / alone
            ratio = e2e / ref
            ok &= ratio >= 0.8
            print(
                f"  end to end {e2e:.1f} mentions/s; standalone scorer {ref:.1f} mentions/s on "
                f"the same {len(texts)} texts -> {ratio:.0%} (target >= 80%: "
                f"{'OK' if ratio >= 0.8 else 'MISSED'})",
                flush=True,
            )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
