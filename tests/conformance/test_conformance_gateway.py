"""The gateway checks against a real city (identity, context and gateway MIMs over HTTP, a peer city
that answers and one that is down; ``bench.conformance_targets``): a reverse proxy with no policy
enforcement fails every refusal check by name while a valid token still passes; a region answer
that hides the failed peer fails whether or not the operator named it; checks needing tokens the
operator did not give are not run. (The reference passing every check: ``test_conformance_mutants``.)"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

from bench.conformance_mutants import hides_region_failure, plain_proxy
from bench.conformance_targets import deploy
from conformance.registry import select
from conformance.runner import Report, run


def outcome(report: Report) -> dict[str, str]:
    for result in report.results:
        print(f"{result.status:8} {result.check.severity:6} {result.check.id}: {result.message} {result.notes}")
    return {result.check.id: result.status for result in report.results}


def test_a_proxy_that_forwards_without_checking_tokens_fails_the_refusal_checks(tmp_path: Path) -> None:
    with deploy("gateway", tmp_path, plain_proxy) as target:
        report = asyncio.run(run(target, select(mim="gateway", only="gateway.pep.*")))
    statuses = outcome(report)
    for check_id in ("gateway.pep.no-token", "gateway.pep.wrong-scope", "gateway.pep.expired-token",
                     "gateway.pep.untrusted-issuer", "gateway.pep.forged-signature", "gateway.pep.alg-none",
                     "gateway.pep.refusals-are-problems"):
        assert statuses[check_id] == "failed", (check_id, statuses[check_id])
    assert statuses["gateway.pep.admits-valid-token"] == "passed"
    assert not report.certifiable


def test_a_region_answer_hiding_the_failed_peer_fails(tmp_path: Path) -> None:
    """The peer lost from the answer's headers is found whether the operator named it or not."""
    with deploy("gateway", tmp_path, hides_region_failure) as told:
        untold = replace(told, options={k: v for k, v in told.options.items() if k != "down_peer"})
        for target in (told, untold):
            statuses = outcome(asyncio.run(run(target, select(mim="gateway", only="gateway.region.*"))))
            assert statuses["gateway.region.partial-failure"] == "failed"
            assert statuses["gateway.region.status"] == "passed"


def test_checks_needing_a_token_the_operator_did_not_give_are_not_run_saying_what_to_give(tmp_path: Path) -> None:
    with deploy("gateway", tmp_path) as target:
        report = asyncio.run(run(replace(target, options={}), select(mim="gateway", only="gateway.pep.*")))
    results = {result.check.id: result for result in report.results}
    outcome(report)
    assert results["gateway.pep.expired-token"].status == "not-run"
    assert "--option expired_token=" in results["gateway.pep.expired-token"].message
    assert results["gateway.pep.wrong-scope"].status == "not-run"
    assert "wrong_scope_client_id" in results["gateway.pep.wrong-scope"].message
    assert results["gateway.pep.no-token"].status == "passed"
    assert not report.certifiable
