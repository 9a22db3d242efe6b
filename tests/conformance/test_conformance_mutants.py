"""The suite is trustworthy: every reference MIM, served over real HTTP, passes every check of both
profiles; every mutant (a reference MIM with one fault put in, ``bench.conformance_mutants``),
served the same way, fails its named must-check and is refused a certificate."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.conformance import run_mutant, run_reference
from bench.conformance_mutants import MUTANTS, Mutant
from bench.conformance_targets import MIMS
from conformance.registry import all_checks


@pytest.mark.parametrize("mim", MIMS)
def test_the_reference_mim_passes_every_check_of_both_profiles(mim: str, tmp_path: Path) -> None:
    for profile, report, _ in run_reference(mim, tmp_path):
        unpassed = [f"{r.check.id} [{r.status}] {r.message}" for r in report.results if r.status != "passed"]
        assert report.certifiable and not unpassed, (profile, unpassed)
        assert len(report.results) >= 5


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda mutant: mutant.name)
def test_the_mutant_fails_its_named_must_check(mutant: Mutant, tmp_path: Path) -> None:
    verdict = run_mutant(mutant, tmp_path)
    print(f"{mutant.killed_by}: {verdict.named}; also failed: {verdict.others}")
    assert verdict.killed, verdict.named


def test_there_are_at_least_15_mutants_each_named_by_a_must_check_of_its_mim() -> None:
    checks = {check.id: check for check in all_checks()}
    assert len(MUTANTS) >= 15 and len({mutant.name for mutant in MUTANTS}) == len(MUTANTS)
    for mutant in MUTANTS:
        named = checks[mutant.killed_by]
        assert named.severity == "must" and named.mim == mutant.mim, mutant
    assert {mutant.mim for mutant in MUTANTS} == set(MIMS)
