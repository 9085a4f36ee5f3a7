"""The benchmark scripts still run against the current code (small sizes; figures not judged:
speed targets are read from the scripts' own output, never asserted in tests)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        ("scripts/bench_collect.py", ["--mentions", "200", "--repeat", "1"], "collected + stored"),
        ("scripts/bench_alerts.py", ["--count", "3"], "alert latency"),
        ("scripts/bench_live_alerts.py", ["--count", "2"], "live alert latency"),
    ],
)
def test_benchmark_script_runs(script: str, args: list[str], expected: str) -> None:
    done = subprocess.run(
        [sys.executable, script, *args], capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout
