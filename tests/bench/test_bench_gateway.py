"""The gateway benchmark runs end to end and prints every figure (a small run: counts, not speed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_benchmark_run_prints_every_figure() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.gateway", "--requests", "100", "--latency-requests", "50", "--concurrency", "4",
         "--peers", "4", "--region-requests", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = run.stdout.strip().splitlines()[-1]
    for figure in ("direct", "gateway", "req/s", "p50", "p95", "ratio", "added p50", "gateway CPU", "region p95"):
        assert figure in summary, summary
    # Warm-up, throughput and latency runs all went through the gateway and were counted.
    assert "200 requests counted by the gateway's metrics" in run.stdout
    assert "region fan-out to 4 peers (3 answering, 1 dead)" in run.stdout
    assert "Traceback" not in run.stderr
