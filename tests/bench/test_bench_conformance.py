"""The conformance benchmark runs end to end: references in both profiles, a mutant, the kill rate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_run_with_one_mutant_prints_the_references_and_the_kill_rate() -> None:
    run = subprocess.run([sys.executable, "-m", "bench.conformance", "--only", "context-ignores-q"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("│ yes ") >= 11, run.stdout  # ten reference runs certifiable, the mutant killed
    assert run.stdout.strip().splitlines()[-1].startswith(
        "kill rate: 1/1 mutants = 100 % (target 100 %); references certifiable: all; slowest full run"), run.stdout
