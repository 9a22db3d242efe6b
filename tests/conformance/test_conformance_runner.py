"""The runner's outcomes: a check that does not apply is skipped and does not block a certificate; a
must-check that needs input the operator did not give is not run, and blocks it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from conformance.model import Check, Severity
from conformance.runner import Report, run
from conformance.session import Session, Target
from tests.serving import closed_port


async def _passes(session: Session) -> None:
    session.expect(True, "never")


async def _does_not_apply(session: Session) -> None:
    session.skip("the target advertises no temporal API")


async def _needs_a_token(session: Session) -> None:
    session.needs("needs an expired token: give --option expired_token=...")


def _check(id: str, body: Callable[[Session], Awaitable[None]], severity: Severity = "must") -> Check:
    return Check(f"gateway.pep.{id}", f"Title of {id}", "gateway", "standard", severity, "RFC 6750 §3.1", body)


async def _run(*checks: Check) -> Report:
    with closed_port() as port:  # the checks make no request; /.well-known/mim finds nothing
        return await run(Target("gateway", f"http://127.0.0.1:{port}"), list(checks))


async def test_a_must_check_needing_input_is_not_run_and_blocks_the_certificate() -> None:
    report = await _run(_check("passes", _passes), _check("skipped", _does_not_apply),
                        _check("expired", _needs_a_token))
    assert [r.status for r in report.results] == ["passed", "skipped", "not-run"]
    assert report.results[2].message == "needs an expired token: give --option expired_token=..."
    assert report.counts() == {"passed": 1, "failed": 0, "skipped": 1, "not-run": 1, "error": 0,
                               "must_failed": 0, "should_failed": 0, "must_not_run": 1}
    assert not report.certifiable
    assert [r.check.id for r in report.blocking] == ["gateway.pep.expired"]


async def test_a_skipped_must_check_and_a_should_check_not_run_do_not_block() -> None:
    report = await _run(_check("passes", _passes), _check("skipped", _does_not_apply),
                        _check("expired", _needs_a_token, severity="should"))
    assert [r.status for r in report.results] == ["passed", "skipped", "not-run"]
    assert report.counts()["must_not_run"] == 0 and report.counts()["not-run"] == 1
    assert report.certifiable and report.blocking == []


async def _uses_a_token(session: Session) -> None:
    await session.token("context:read")


async def test_a_check_needing_a_token_when_none_was_given_is_not_run_saying_what_to_give() -> None:
    report = await _run(_check("valid", _uses_a_token))
    [result] = report.results
    assert result.status == "not-run" and not report.certifiable
    assert result.message == ("the check needs an access token: give --token, or --client-id, --client-secret "
                              "and --token-url")
