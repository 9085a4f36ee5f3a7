"""Benchmark: scoring throughput with 1, 2 and 3 ``listener worker`` processes (procrastinate on
PostgreSQL) against the single-process daemon's score stage, on the same mentions. Prints the
figures.

    python scripts/bench_scale.py [--workers 1,2,3] [--mentions 8000] [--real-mentions 600]
        [--batch 256] [--real-batch 64] [--repeat 2] [--scorer both|stand-in|real]

Two scorers: a light stand-in (a random 1-layer BERT classifier, tests/factories.py), whose
scoring costs little, so the figures show the queue's own overhead; and the bundled model.
Each round gets a fresh PostgreSQL database; k workers (``[model] threads = 1`` each, one per
core) are started and loaded first, then the mentions are stored through the store in one
transaction, which enqueues their scoring jobs (batches of ``--batch`` mention ids); the clock
runs from that commit until every mention is scored. The single-process round runs
``App.score`` (the daemon's score job: it drains the queue) in this process with one thread on
the same mentions, stored the same way. Each figure is the best of ``--repeat`` rounds (the
machine may be shared: the load average is printed). Printed: mentions/s per k, the scaling
ratio throughput(k) / (k x throughput(1)) (target >= 0.8 up to the core count, with the
stand-in), the queue's overhead against the daemon with one worker (target <= 10%), and the
batch sizes the jobs carried.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from sqlalchemy import Engine, func, select, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import chaos  # noqa: E402  (fresh PostgreSQL databases)

from listener.app import App  # noqa: E402
from listener.config import load_settings  # noqa: E402
from listener.domain import Batch, BrandQuery, Mention, utcnow  # noqa: E402
from listener.emulators.corpus import read_jsonl, sample_path  # noqa: E402
from listener.store.schema import score_queue  # noqa: E402

QUERY = BrandQuery(brand="Aurora Air", query="aurora")


def cpu_line() -> str:
    info = Path("/proc/cpuinfo").read_text()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in info.splitlines() if "model name" in ln), "?"
    )
    flags = set(next((ln for ln in info.splitlines() if ln.startswith("flags")), "").split())
    simd = "avx512_vnni" if "avx512_vnni" in flags else "avx2" if "avx2" in flags else "no avx2"
    return f"cpu: {model}, {os.cpu_count()} logical cores, {simd}"


def texts(count: int) -> list[str]:
    corpus = [str(t["text"]) for t in read_jsonl(sample_path("twitter.jsonl"))]
    return [f"{corpus[i % len(corpus)]} #{i}" for i in range(count)]


def config(path: Path, *, url: str, model: str, batch: int, engine: str) -> Path:
    path.write_text(
        f"""
[storage]
url = "{url}"
[model]
name = "{model}"
threads = 1
[scale]
engine = "{engine}"
batch_size = {batch}
keep_finished = "24h"
[jobs.score]
interval = "30s"
batch_size = {batch}
[[brands]]
name = "Aurora Air"
query = "aurora"
""",
        encoding="utf-8",
    )
    return path


def store(app: App, items: list[str]) -> None:
    """Every mention in ONE transaction (their scoring jobs become visible at once)."""
    now = utcnow()
    mentions = [
        Mention(
            source="bench",
            external_id=str(i),
            brand="Aurora Air",
            text=t,
            author=f"u{i % 100}",
            created_at=now,
        )
        for i, t in enumerate(items)
    ]
    app.store.add_batch("bench", QUERY, Batch(mentions=mentions))


def queued(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(score_queue)).scalar_one())


def job_batches(engine: Engine) -> list[int]:
    sql = (
        "SELECT jsonb_array_length(args->'mention_ids') FROM procrastinate_jobs"
        " WHERE task_name = 'listener.score'"
    )
    with engine.connect() as conn:
        return [int(n) for n in conn.execute(text(sql)).scalars()]


def workers_round(
    k: int, model: str, items: list[str], batch: int, workdir: Path
) -> tuple[float, list[int]]:
    with ExitStack() as stack:
        url = stack.enter_context(chaos.database("postgresql", workdir))
        cfg = config(
            workdir / f"w{k}.toml", url=url, model=model, batch=batch, engine="procrastinate"
        )
        app = stack.enter_context(App(load_settings(cfg)))
        app.upgrade()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        procs = []
        for n in range(k):
            log = workdir / f"w{k}-{n}.log"
            out = stack.enter_context(open(log, "wb"))
            cmd = [
                sys.executable,
                "-m",
                "listener",
                "--config",
                str(cfg),
                "worker",
                "--queue",
                "score",
            ]
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
            procs.append((proc, log))
            stack.callback(_stop, proc)
        for proc, log in procs:
            while "worker for queues" not in log.read_text(errors="replace"):
                if proc.poll() is not None:
                    raise SystemExit(f"bench: a worker exited: {log.read_text()[-800:]}")
                time.sleep(0.1)
        time.sleep(1)  # procrastinate's loop is listening
        store(app, items)
        started = time.perf_counter()
        while queued(app.engine):
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        return seconds, job_batches(app.engine)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def daemon_round(model: str, items: list[str], batch: int, workdir: Path) -> float:
    with ExitStack() as stack:
        url = stack.enter_context(chaos.database("postgresql", workdir))
        cfg = config(workdir / "daemon.toml", url=url, model=model, batch=batch, engine="local")
        app = stack.enter_context(App(load_settings(cfg)))
        app.upgrade()
        app.scorer  # noqa: B018 -- loaded first, as the workers are
        store(app, items)
        started = time.perf_counter()
        result = app.score()
        seconds = time.perf_counter() - started
        assert result.scored == len(items), result
        return seconds


def run(
    name: str, model: str, count: int, ks: list[int], batch: int, workdir: Path, repeat: int
) -> None:
    items = texts(count)
    print(f"{name}: {count} mentions, jobs of {batch} mention ids, best of {repeat}", flush=True)
    daemon = count / min(daemon_round(model, items, batch, workdir) for _ in range(repeat))
    print(f"  single-process daemon (score stage, 1 thread): {daemon:.1f} mentions/s", flush=True)
    rates: dict[int, float] = {}
    for k in ks:
        rounds = [workers_round(k, model, items, batch, workdir) for _ in range(repeat)]
        seconds, sizes = min(rounds)
        rates[k] = count / seconds
        base = rates.get(1)
        scaling = f", {rates[k] / (k * base):.2f} x k x throughput(1)" if base and k > 1 else ""
        print(
            f"  {k} worker{'s' if k > 1 else ' '}: {rates[k]:.1f} mentions/s{scaling}; jobs: "
            f"{len(sizes)}, batch sizes min {min(sizes)} / median {statistics.median(sizes):g}"
            f" / max {max(sizes)}",
            flush=True,
        )
    if 1 in rates:
        overhead = 1 - rates[1] / daemon
        print(
            f"  queue overhead, 1 worker vs the daemon: {overhead:.0%} (target <= 10%: "
            f"{'OK' if overhead <= 0.10 else 'MISSED'})",
            flush=True,
        )
    cores = os.cpu_count() or 1
    for k in ks:
        if 1 < k <= cores and 1 in rates:
            ratio = rates[k] / (k * rates[1])
            print(
                f"  scaling at k={k} (<= {cores} cores): {ratio:.2f} (target >= 0.8: "
                f"{'OK' if ratio >= 0.8 else 'MISSED'})",
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--mentions", type=int, default=8000, help="with the stand-in scorer")
    parser.add_argument("--real-mentions", type=int, default=600, help="with the bundled model")
    parser.add_argument("--batch", type=int, default=256, help="mention ids per job")
    parser.add_argument("--real-batch", type=int, default=64, help="... with the bundled model")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many rounds")
    parser.add_argument("--scorer", choices=["both", "stand-in", "real"], default="both")
    args = parser.parse_args()
    ks = [int(k) for k in args.workers.split(",")]
    numbers = (args.mentions, args.real_mentions, args.batch, args.real_batch, args.repeat)
    if any(k < 1 for k in ks) or min(numbers) < 1:
        parser.error("--workers, --mentions, --real-mentions, --*batch, --repeat: at least 1")
    print(cpu_line())
    print(f"load average before: {os.getloadavg()[0]:.1f} (this machine is shared)")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if args.scorer in ("both", "stand-in"):
            from tests.factories import tiny_model

            labels = {0: "negative", 1: "neutral", 2: "positive"}
            tiny = tiny_model(workdir / "tiny-model", labels)
            name = "stand-in scorer (tiny random BERT)"
            run(name, str(tiny), args.mentions, ks, args.batch, workdir, args.repeat)
        if args.scorer in ("both", "real"):
            model = "listener-sentiment-ml"
            run(
                "bundled model",
                model,
                args.real_mentions,
                ks,
                args.real_batch,
                workdir,
                args.repeat,
            )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
