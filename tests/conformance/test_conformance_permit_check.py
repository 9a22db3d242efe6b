"""The permit-check checks name what is wrong: against our permit check made to implement "at most"
as ``<``, the known-answer checks of the cases at the limit fail, naming case, rule, expected and
got, and the others pass; against one that explains itself in Dutch only, the explanation check
fails. (The reference passing every check, and the other mutants: ``test_conformance_mutants``.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.conformance_mutants import deciding, strictly_below, without_english
from bench.conformance_targets import Mutate, deploy
from conformance.registry import select
from conformance.runner import Report, run


def conformance(folder: Path, mutate: Mutate, only: str) -> Report:
    with deploy("permit-check", folder, mutate) as target:
        return asyncio.run(run(target, select(mim="permit-check", profile="mim", only=only)))


def failures(report: Report) -> str:
    return "\n".join(f"{r.check.id} [{r.status}] {r.message}" for r in report.results if r.status != "passed")


def test_a_check_using_less_than_for_at_most_fails_the_cases_at_the_limit(tmp_path: Path) -> None:
    report = conformance(tmp_path, deciding(strictly_below), only="permit-check.known-answers.*")
    by_id = {r.check.id: r for r in report.results}
    assert not report.certifiable
    failed = {check_id for check_id, r in by_id.items() if r.status == "failed"}
    assert failed == {"permit-check.known-answers.height-at-the-limit",
                      "permit-check.known-answers.storeys-at-the-limit"}, failures(report)
    message = by_id["permit-check.known-answers.height-at-the-limit"].message
    assert "case height-at-the-limit" in message and "rule max-height: expected pass, got fail" in message
    assert "verdict: expected compliant, got non-compliant" in message


def test_a_check_explaining_itself_in_dutch_only_fails_the_explanations(tmp_path: Path) -> None:
    report = conformance(tmp_path, deciding(without_english), only="permit-check.decision.*")
    by_id = {r.check.id: r for r in report.results}
    explained = by_id["permit-check.decision.explanations"]
    assert explained.status == "failed" and "case compliant /results/0 (use-versus-zoning) en" in explained.message
    assert by_id["permit-check.decision.schema"].status == "failed"  # the PPI requires both languages
    # what it stored still has English: read back, it differs from what POST answered
    assert by_id["permit-check.decision.retrievable"].status == "failed"


def test_the_known_answer_cases_come_from_the_ppi_folder() -> None:
    folder = Path(__file__).resolve().parents[2] / "ppi_schemas" / "permit-decision" / "1.0.0" / "known-answers"
    cases = {path.stem for path in folder.glob("*.json")}
    checks = {c.id.removeprefix("permit-check.known-answers.") for c in select(only="permit-check.known-answers.*")}
    assert cases == checks and len(cases) >= 5
