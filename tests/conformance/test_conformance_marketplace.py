"""The marketplace checks against our marketplace MIM (tokens from our identity MIM, a publisher and
a consumer client): reruns pass, and without a consumer the contract checks are not run, saying
which option to give. (Every check passing, and broken marketplaces failing: ``test_conformance_mutants``.)"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from bench.conformance_targets import deploy
from conformance.registry import select
from conformance.runner import Report, run
from conformance.session import Target


@pytest.fixture(scope="module")
def marketplace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    with deploy("marketplace", tmp_path_factory.mktemp("marketplace")) as target:
        yield target


def _failures(report: Report) -> str:
    return "\n".join(f"{r.check.id} [{r.status}] {r.message}" for r in report.results if r.status != "passed")


async def test_a_rerun_against_the_same_marketplace_passes_again(marketplace: Target) -> None:
    """Test data is unique per run: offer uids and titles do not collide with the previous run's."""
    checks = select(mim="marketplace", only="marketplace.ppi.*")
    assert len(checks) >= 6  # datasets, offers and usage records: accepted and refused
    for _ in range(2):
        report = await run(marketplace, checks)
        assert [r.status for r in report.results] == ["passed"] * len(checks), _failures(report)


async def test_without_a_consumer_the_contract_checks_are_not_run_saying_what_to_give(marketplace: Target) -> None:
    alone = replace(marketplace, options={})
    report = await run(alone, select(mim="marketplace", only="marketplace.dsp.legal_transitions"))
    assert report.results[0].status == "not-run"
    assert "consumer_client_id" in report.results[0].message
    assert not report.certifiable


async def test_without_a_grants_client_the_grant_and_usage_checks_are_not_run(marketplace: Target) -> None:
    """The publisher itself may not have marketplace:grants: the checks say which options to give."""
    options = {k: v for k, v in marketplace.options.items() if not k.startswith("grants_")}
    report = await run(replace(marketplace, options=options), [
        *select(mim="marketplace", only="marketplace.grants.*"), *select(mim="marketplace", only="*usage_record*")])
    assert [r.status for r in report.results] == ["not-run"] * 3, _failures(report)
    assert all("--option grants_client_id=" in r.message for r in report.results)
