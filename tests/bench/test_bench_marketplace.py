"""The marketplace benchmark runs end to end and prints every figure (a small run: counts, not speed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_small_benchmark_run_prints_every_figure() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench.marketplace", "--datasets", "200", "--rounds", "4"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = run.stdout.strip().splitlines()[-1]
    assert summary.startswith("SQLite: search p50 ") and " p95 " in summary and "over 200 datasets" in summary
    assert "target p95 < 20 ms" in summary
    for kind in ("text only", "text + facet filter", "facet filters only", "bounding box", "paging (deep pages)"):
        assert f"│ {kind}" in run.stdout and "│ 4 " in run.stdout, run.stdout
    assert "│ all " in run.stdout and "│ 20 " in run.stdout  # every search of the mix was answered
    assert "seeded 200 datasets in" in run.stdout
    assert "Traceback" not in run.stderr
