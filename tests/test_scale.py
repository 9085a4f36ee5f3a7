"""Scale-out on PostgreSQL with real processes: two schedulers (one leads, one stands by) and
three ``listener worker`` processes, SIGKILLed at random moments while mentions arrive on the
X and Reddit emulators. At the end: every published mention stored once, exactly one score per
mention for the model, every alert the rule fires on in Slack once, and the standby took over
within 10 s of the leader's death. The scorer is the tiny random classifier: the queue and the
processes are the point here, not the model."""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select, text

from listener.app import App
from listener.cli import main
from listener.config import load_settings
from listener.domain import Batch
from listener.store.db import connect
from listener.store.schema import mentions, score_queue, scores
from tests.factories import QUERY, mention

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "chaos.py"
FAILOVER_S = 10.0
TAIL = 60
N = 400 + TAIL

SCALE = """
[scale]
engine = "procrastinate"
batch_size = 16
stalled_after = "3s"
upkeep_interval = "1s"
leader_poll = "0.5s"
keep_finished = "1s"
"""


def _chaos() -> ModuleType:
    spec = importlib.util.spec_from_file_location("listener_chaos_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Proc:
    """One ``python -m listener`` child process with its own log file per start."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.args, self.env, self.logs = name, args, env, logs
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.log = logs / f"{name}-0.log"

    def start(self) -> None:
        self.starts += 1
        self.log = self.logs / f"{self.name}-{self.starts}.log"
        cmd = [sys.executable, "-m", "listener", *self.args]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env)

    def text(self) -> str:
        return self.log.read_text("utf-8", errors="replace")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def _wait(predicate: object, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():  # type: ignore[operator]
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def _leads(p: Proc) -> bool:
    return p.alive() and "this scheduler is the leader" in p.text()


def _pending_jobs(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")
            ).scalar_one()
        )


def _state(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(mentions)).scalar_one()
        queued = conn.execute(select(func.count()).select_from(score_queue)).scalar_one()
        unsent = conn.execute(
            text("SELECT count(*) FROM alerts WHERE status IN ('pending', 'sending')")
        ).scalar_one()
    return {"stored": stored, "queued": queued, "unsent": unsent, "jobs": _pending_jobs(engine)}


def _settled(engine: Engine, published: int) -> bool:
    s = _state(engine)
    return s["stored"] >= published and s["queued"] == s["unsent"] == s["jobs"] == 0


def test_workers_and_leader_killed_at_random_lose_and_repeat_nothing(
    pg_url: str, tmp_path: Path, tiny_model_dir: Path
) -> None:
    chaos = _chaos()
    rng = random.Random(14)
    with ExitStack() as stack:
        x = stack.enter_context(chaos.TwitterEmulator(bearer_token=chaos.SECRETS["CHAOS_X_TOKEN"]))
        reddit = stack.enter_context(
            chaos.RedditEmulator(
                client_id=chaos.SECRETS["CHAOS_REDDIT_ID"],
                client_secret=chaos.SECRETS["CHAOS_REDDIT_SECRET"],
            )
        )
        slack = chaos.SlackEmulator(
            token=chaos.SECRETS["CHAOS_SLACK_TOKEN"],
            channels=("#social", *chaos.CHANNELS.values()),
        )
        slack.start()
        stack.callback(slack.stop)
        world = chaos.World(x=x, reddit=reddit, slack=slack)
        url = stack.enter_context(chaos.database("postgresql", tmp_path))
        config = tmp_path / "scale.toml"
        body = chaos.config_text(url=url, model=str(tiny_model_dir), world=world, tiny=True)
        body = body.replace("quantize = false", "quantize = false\nthreads = 1")
        config.write_text(body + SCALE, encoding="utf-8")
        env = {**os.environ, **chaos.SECRETS, "PYTHONUNBUFFERED": "1"}
        upgraded = CliRunner(env=chaos.SECRETS).invoke(
            main, ["--config", str(config), "db", "upgrade"]
        )
        assert upgraded.exit_code == 0, upgraded.output
        engine = connect(url)
        stack.callback(engine.dispose)

        run = ["--config", str(config), "run", "--role", "scheduler"]
        schedulers = [Proc(f"scheduler{i}", run, env, tmp_path) for i in (1, 2)]
        work = ["--config", str(config), "worker"]
        workers = [Proc(f"worker{i}", work, env, tmp_path) for i in (1, 2, 3)]
        everyone = schedulers + workers
        for p in everyone:
            stack.callback(p.stop)
        holder = type("Holder", (), {"config": config})()  # what Chaos reads the settings from
        game = chaos.Chaos(
            chaos.Options(db="postgresql", mentions=N, seed=14), world, holder, engine
        )
        game.gen.publish(20)
        schedulers[0].start()
        _wait(lambda: _leads(schedulers[0]), 120, "the first scheduler leads")
        schedulers[1].start()
        for w in workers:
            w.start()
        _wait(lambda: "standing by" in schedulers[1].text(), 120, "the second stands by")

        kills: list[str] = []
        failover: float | None = None
        started = time.monotonic()
        next_kill = started + rng.uniform(1, 3)
        while len(game.gen.items) < 400 or len(kills) < 5:
            game.gen.publish(min(25, 400 - len(game.gen.items)))
            if time.monotonic() >= next_kill and len(kills) < 5:
                if len(kills) == 2:  # the leader, mid-run: the standby must take over
                    leader = next(p for p in schedulers if _leads(p))
                    standby = next(p for p in schedulers if p is not leader)
                    leader.kill()
                    kills.append(leader.name)
                    failover = _wait(lambda s=standby: _leads(s), 30, "the standby takes over")
                    leader.start()  # back as the standby
                else:
                    victim = rng.choice(workers)
                    victim.kill()
                    kills.append(victim.name)
                    time.sleep(rng.uniform(0, 1))
                    victim.start()
                next_kill = time.monotonic() + rng.uniform(1, 4)
            for p in everyone:
                assert p.alive() or p.proc is None, f"{p.name} exited: {p.text()[-2000:]}"
            time.sleep(0.5)
            assert time.monotonic() - started < 240, "publishing and killing took too long"

        # a kill that surely lands mid-job: every worker dies as Slack answers the next post,
        # before its worker can record it; the job is retried once its heartbeat is stale and
        # the post is found in Slack (not posted again)
        landed = threading.Event()

        def kill_workers(request: chaos.Request, response: chaos.Response) -> None:
            if request.path == "/api/chat.postMessage" and not landed.is_set():
                landed.set()
                for w in workers:
                    if w.proc is not None:
                        w.proc.send_signal(signal.SIGKILL)

        slack.on_answer(kill_workers)
        game.gen.publish(TAIL)  # some of them angry: a post comes
        _wait(landed.is_set, 120, "a Slack post while the workers run")
        for w in workers:
            assert w.proc is not None
            w.proc.wait(30)
            w.start()
        kills.append("every worker, on a Slack answer")
        try:
            _wait(lambda: _settled(engine, N), 180, "every mention stored, scored, alerted")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {_state(engine)}") from None
        stops = {p.name: p.stop() for p in everyone}
        assert all(code == 0 for code in stops.values()), stops

        game.figures()
        r = game.report
        print(f"leader failover: {failover:.2f} s; SIGKILLs: {kills}")
        assert failover is not None and failover <= FAILOVER_S, failover
        retried = "".join(p.text() for p in schedulers)
        assert "of a dead worker: queued again" in retried  # the stalled job was retried
        assert r.generated == N and r.lost == 0 and r.duplicated == 0 and r.phantoms == 0
        assert r.missing_scores == 0
        with engine.connect() as conn:
            per_model = dict(
                conn.execute(select(scores.c.model, func.count()).group_by(scores.c.model)).all()
            )
        assert per_model == {game.model: N}, per_model  # exactly one score per mention
        assert r.fired > 0 and r.missed == 0, r.lines()
        assert r.slack_duplicates == 0, r.lines()


def test_mentions_and_their_scoring_jobs_commit_together(pg_url: str, tmp_path: Path) -> None:
    chaos = _chaos()
    with chaos.database("postgresql", tmp_path) as url:
        config = tmp_path / "c.toml"
        config.write_text(
            f'[storage]\nurl = "{url}"\n{SCALE}\n[[brands]]\nname = "Aurora Air"\nquery = "a"\n',
            encoding="utf-8",
        )
        with App(load_settings(config)) as app:
            app.upgrade()
            app.upgrade()  # idempotent: the queue's tables are not created twice
            batch = Batch(mentions=[mention(n) for n in range(40)])
            assert app.store.add_batch("replay", QUERY, batch) == 40
            assert app.store.add_batch("replay", QUERY, batch) == 0  # no job for old ones
            with app.engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT task_name, queue_name, args FROM procrastinate_jobs ORDER BY id")
                ).all()
            assert [(r[0], r[1]) for r in rows] == [("listener.score", "score")] * 3  # a queue
            # a worker listens on
            assert [len(r[2]["mention_ids"]) for r in rows] == [16, 16, 8]  # batched at enqueue
            metrics = app.metrics.registry
            assert metrics.get_sample_value("listener_score_queue_mentions") == 40
            todo = {"queue": "score", "status": "todo"}
            assert metrics.get_sample_value("listener_queue_jobs", todo) == 3
            assert metrics.get_sample_value("listener_queue_oldest_job_age_seconds", todo) >= 0


def test_procrastinate_needs_postgresql(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n[scale]\n'
        'engine = "procrastinate"\n[[brands]]\nname = "A"\nquery = "a"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["--config", str(config), "check-config"])
    assert result.exit_code == 2
    assert 'scale.engine = "procrastinate" needs PostgreSQL' in result.output


def test_role_scheduler_needs_the_procrastinate_engine(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[storage]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n[[brands]]\nname = "A"\n'
        'query = "a"\n',
        encoding="utf-8",
    )
    for args in (["run", "--role", "scheduler"], ["worker"]):
        result = CliRunner().invoke(main, ["--config", str(config), *args])
        assert result.exit_code == 2, result.output
        assert 'engine = "procrastinate"' in result.output


@pytest.fixture(autouse=True)
def _no_stray_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LISTENER_CONFIG", raising=False)


def test_role_all_collects_scores_and_stops_on_sigterm(
    pg_url: str, tmp_path: Path, tiny_model_dir: Path
) -> None:
    chaos = _chaos()
    lines = [f'{{"id": "r{n}", "text": "aurora {n}", "author": "u", "created_at": '
             f'"2026-11-20T10:{n % 60:02d}:00Z"}}' for n in range(60)]  # fmt: skip
    (tmp_path / "m.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with chaos.database("postgresql", tmp_path) as url:
        config = tmp_path / "all.toml"
        config.write_text(
            f'[storage]\nurl = "{url}"\n[model]\nname = "{tiny_model_dir}"\nquantize = false\n'
            f'[replay]\npaths = ["m.jsonl"]\ninterval = "1s"\n{SCALE}\n'
            '[[brands]]\nname = "Aurora Air"\nquery = "aurora"\n',
            encoding="utf-8",
        )
        with App(load_settings(config)) as app:
            app.upgrade()  # the process upgrades too: this only lets the test read at once
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = Proc("all", ["--config", str(config), "run"], env, tmp_path)
        proc.start()
        engine = connect(url)
        try:

            def done() -> bool:
                with engine.connect() as conn:
                    return conn.execute(select(func.count()).select_from(scores)).scalar_one() == 60

            _wait(lambda: done() or not proc.alive(), 120, "60 mentions scored")
            assert proc.alive(), proc.text()[-2000:]
            assert "this scheduler is the leader" in proc.text()
            assert proc.stop() == 0, proc.text()[-2000:]
        finally:
            proc.stop()
            engine.dispose()
