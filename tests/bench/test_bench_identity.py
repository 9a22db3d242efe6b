"""The identity benchmark runs end to end and prints every figure (a small run: counts, not speed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_benchmark_run_prints_every_figure() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.identity", "--tokens", "40", "--seconds", "2", "--concurrency", "4",
         "--clients", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = run.stdout.strip().splitlines()[-1]
    for figure in ("tokens/s (target 500)", "tokens per server CPU second", "introspections/s",
                   "introspections per server CPU second", "verifications/s distinct",
                   "verifications/s repeated (target 20,000)", "peak RSS"):
        assert figure in summary, summary
    assert "40 tokens" in run.stdout  # every token issued was introspected
    assert "Traceback" not in run.stderr
