"""Is the conformance suite itself trustworthy? ``python -m bench.conformance``

1. Every reference MIM (``bench.conformance_targets``) is run against all its checks in both
   profiles: each must be certifiable; the time of a full run is printed beside the 60 s bound.
2. Every mutant (``bench.conformance_mutants``: a reference MIM with one fault put in) is run
   against all its MIM's checks of profile ``mim``: it is killed when its named must-check fails
   (the other must-checks that failed are listed too). The kill rate is printed; target 100 %.

``--only PATTERN`` runs the mutants whose name contains PATTERN (the references always run).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.conformance_mutants import MUTANTS, Mutant
from bench.conformance_targets import MIMS, deploy
from conformance.model import PROFILES
from conformance.registry import select
from conformance.runner import Report, run

BOUND = 60.0
"""Seconds a full run against one local MIM may take (the issue's bound)."""


@dataclass
class Verdict:
    mutant: Mutant
    killed: bool
    named: str
    """The named check's status and message."""
    others: list[str]
    """Other must-checks that failed or broke."""
    seconds: float


def run_reference(mim: str, folder: Path) -> list[tuple[str, Report, float]]:
    """Both profiles against the reference ``mim``; each report with its run's seconds."""
    reports = []
    with deploy(mim, folder) as target:
        for profile in PROFILES:
            started = time.perf_counter()
            report = asyncio.run(run(replace(target, profile=profile), select(mim, profile)))
            reports.append((profile, report, time.perf_counter() - started))
    return reports


def run_mutant(mutant: Mutant, folder: Path) -> Verdict:
    """``mutant`` served and run against every check of its MIM (profile ``mim``)."""
    started = time.perf_counter()
    with deploy(mutant.mim, folder, mutant.mutate) as target:
        report = asyncio.run(run(target, select(mutant.mim, "mim")))
    by_id = {result.check.id: result for result in report.results}
    named = by_id[mutant.killed_by]
    others = [check_id for check_id, result in by_id.items() if check_id != mutant.killed_by
              and result.check.severity == "must" and result.status in ("failed", "error")]
    return Verdict(mutant, named.status == "failed" and not report.certifiable,
                   f"{named.status}: {named.message}", others, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run the mutants whose name contains this")
    args = parser.parse_args()
    console = Console(width=160)
    references = Table(title="Reference MIMs: every check, both profiles")
    for column in ("MIM", "profile", "checks", "passed", "failed", "skipped", "not run", "certifiable", "seconds"):
        references.add_column(column, justify="right" if column in ("checks", "passed", "seconds") else "left")
    slowest, uncertified = 0.0, []
    for mim in MIMS:
        with tempfile.TemporaryDirectory() as folder:
            for profile, report, seconds in run_reference(mim, Path(folder)):
                counts = report.counts()
                slowest = max(slowest, seconds)
                if not report.certifiable:
                    uncertified.append(f"{mim} ({profile})")
                references.add_row(mim, profile, str(len(report.results)), str(counts["passed"]), str(counts["failed"]),
                                   str(counts["skipped"]), str(counts["not-run"]), "yes" if report.certifiable else "NO",
                                   f"{seconds:.1f}")
    console.print(references)
    console.print(f"slowest full run: {slowest:.1f} s (bound {BOUND:.0f} s, notification waits included)")

    mutants = [m for m in MUTANTS if args.only is None or args.only in m.name]
    table = Table(title="Mutants: a reference MIM with one fault; killed when its named must-check fails")
    for column in ("mutant", "fault", "named must-check", "killed", "also failed", "seconds"):
        table.add_column(column, overflow="fold")
    verdicts = []
    for mutant in mutants:
        with tempfile.TemporaryDirectory() as folder:
            verdict = run_mutant(mutant, Path(folder))
        verdicts.append(verdict)
        table.add_row(mutant.name, mutant.fault, mutant.killed_by, "yes" if verdict.killed else f"NO ({verdict.named})",
                      str(len(verdict.others)), f"{verdict.seconds:.1f}")
    console.print(table)
    killed = sum(verdict.killed for verdict in verdicts)
    print(f"kill rate: {killed}/{len(verdicts)} mutants = {100 * killed / max(len(verdicts), 1):.0f} % (target 100 %); "
          f"references certifiable: {'all' if not uncertified else 'not ' + ', '.join(uncertified)}; "
          f"slowest full run {slowest:.1f} s (bound {BOUND:.0f} s)")


if __name__ == "__main__":
    main()
