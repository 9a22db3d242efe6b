"""The context benchmark runs end to end and prints every figure (a small run: counts, not speed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_benchmark_run_prints_every_figure() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.context", "--creates", "20", "--writes", "40", "--rows", "300"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = run.stdout.strip().splitlines()[-1]
    for figure in ("in-process", "served", "upsert", "floor", "notification p95", "query p95", "geo p95", "peak RSS"):
        assert figure in summary, summary
    assert "derived" in run.stdout  # the run without derived data
    assert "200/200 received" in run.stdout
    assert "Traceback" not in run.stderr
