"""Permit-check checks: the decisions themselves, by the known-answer cases shipped with the
permit-decision PPI (a zoning plan and a building plan with the verdict each rule must get, computed
by hand), the shape of a decision (its PPI, explanations in Dutch and English, the same when read
back), and the PPI contract of what the component consumes (profile ``mim``).

A case's zoning plan is put into the component's digital twin with ``PUT /v1/zoning-plans/{id}``
and deleted after the check. The cases use a synthetic plan (``NL.IMRO.9999.Conformance...``) far
from real zoning, under a fixed id: a re-run replaces what an interrupted run left behind instead
of adding a second, overlapping plan.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any
from urllib.parse import quote

import httpx

import ppi_schemas
from conformance.checks.common import body, conforms, examples_accepted, examples_refused, problem
from conformance.registry import check
from conformance.session import Session

MIM = "permit-check"
DECISION = "permit-decision@1.0.0"
BUILDING_PLAN = "building-plan@1.0.0"
ZONING_PLAN = "zoning-plan@1.0.0"
SCOPES = "permit:submit permit:zoning"
CHECKS = "/v1/checks"
ZONING = "/v1/zoning-plans"
LANGUAGES = ("nl", "en")
CASES_DIR = ppi_schemas.get(DECISION).path / "known-answers"
STRUCTURE_CASES = ("compliant", "overhang-of-the-building-plane")
"""Cases whose decisions the structure checks look at: one that passes, one that fails with evidence."""


def known_answers() -> dict[str, dict[str, Any]]:
    """The known-answer cases by name (the file's stem)."""
    return {path.stem: json.loads(path.read_text("utf-8")) for path in sorted(CASES_DIR.glob("*.json"))}


def _case_source(name: str) -> str:
    return f"PPI {DECISION} known-answers/{name}.json"


@asynccontextmanager
async def zoning_in_twin(session: Session, plan: dict[str, Any]) -> AsyncIterator[None]:
    """The zoning plan held by the component's twin while the block runs, deleted after."""
    url = f"{ZONING}/{quote(plan['id'], safe='')}"
    headers = await session.bearer(SCOPES)
    put = await session.http.put(url, json=plan, headers=headers, timeout=60)
    session.expect(put.status_code in (200, 201), f"PUT {url} answered {put.status_code} {put.text[:200]!r}; "
                   f"expected 201 or 200: the known-answer cases need their {ZONING_PLAN} in the component's twin")
    try:
        yield
    finally:
        gone = await session.http.delete(url, headers=headers, timeout=60)
        if gone.status_code != 204:
            session.note(f"DELETE {url} answered {gone.status_code}, not 204: the test zoning plan may remain")


async def decide(session: Session, case: dict[str, Any]) -> httpx.Response:
    """The answer to the case's building plan, checked with its zoning in the twin."""
    async with zoning_in_twin(session, case["zoningPlan"]):
        return await session.http.post(CHECKS, params={"municipality": case["municipality"]}, json=case["plan"],
                                       headers=await session.bearer(SCOPES), timeout=60)


def decision_of(session: Session, answer: httpx.Response, name: str) -> dict[str, Any]:
    session.expect(answer.status_code == 201, f"case {name}: POST {CHECKS} answered {answer.status_code} "
                   f"{answer.text[:300]!r}; expected 201 with the {DECISION}")
    decision = body(answer)
    session.expect(isinstance(decision, dict), f"case {name}: the decision is not a JSON object")
    return decision


def differences(decision: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """How ``decision`` departs from the expected verdicts: overall and per rule."""
    found: list[str] = []
    if decision.get("verdict") != expected["verdict"]:
        found.append(f"verdict: expected {expected['verdict']}, got {decision.get('verdict')}")
    results = decision.get("results") if isinstance(decision.get("results"), list) else []
    verdicts = {r.get("rule"): r.get("verdict") for r in results if isinstance(r, dict)}
    for rule, verdict in expected["rules"].items():
        got = verdicts.get(rule, "no result for the rule")
        if got != verdict:
            found.append(f"rule {rule}: expected {verdict}, got {got}")
    return found


def _known_answer(name: str, case: dict[str, Any]) -> None:
    @check(f"{MIM}.known-answers.{name}", f"Decides the known-answer case {name} as computed by hand",
           mim=MIM, source=_case_source(name))
    async def known_answer(session: Session) -> None:
        decision = decision_of(session, await decide(session, case), name)
        wrong = differences(decision, case["expected"])
        session.expect(not wrong, f"case {name} ({case['description']}): " + "; ".join(wrong))


for _name, _case in known_answers().items():
    _known_answer(_name, _case)


async def _decisions(session: Session) -> list[tuple[str, dict[str, Any]]]:
    cases = known_answers()
    return [(name, decision_of(session, await decide(session, cases[name]), name)) for name in STRUCTURE_CASES]


@check(f"{MIM}.decision.schema", f"A decision validates against PPI {DECISION}", mim=MIM, source=f"PPI {DECISION}")
async def decision_schema(session: Session) -> None:
    for name, decision in await _decisions(session):
        conforms(session, decision, DECISION, f"the decision of case {name}")


@check(f"{MIM}.decision.explanations", "Every rule result explains itself in Dutch and in English", mim=MIM,
       source=f"PPI {DECISION} /results/*/explanation")
async def explanations(session: Session) -> None:
    missing = []
    for name, decision in await _decisions(session):
        results = decision.get("results")
        session.expect(isinstance(results, list) and results, f"case {name}: the decision has no results")
        for index, result in enumerate(results):
            result = result if isinstance(result, dict) else {}
            explanation = result.get("explanation") if isinstance(result.get("explanation"), dict) else {}
            for lang in LANGUAGES:
                text = explanation.get(lang)
                if not isinstance(text, str) or not text.strip():
                    missing.append(f"case {name} /results/{index} ({result.get('rule', '?')}) {lang}")
    session.expect(not missing, "rule results without a non-empty explanation: " + ", ".join(missing[:10]))


@check(f"{MIM}.decision.retrievable", "A decision reads back the same at GET /v1/checks/{id}", mim=MIM,
       source=f"PPI {DECISION}; permit check API GET /v1/checks/{{id}}")
async def retrievable(session: Session) -> None:
    for name, decision in await _decisions(session):
        check_id = decision.get("id")
        session.expect(isinstance(check_id, str) and check_id,
                       f"case {name}: the decision has no id to read it back by")
        answer = await session.http.get(f"{CHECKS}/{quote(check_id, safe='')}", headers=await session.bearer(SCOPES))
        session.expect(answer.status_code == 200, f"GET {CHECKS}/{check_id} answered {answer.status_code}")
        stored = body(answer)
        session.expect(stored == decision, f"case {name}: GET {CHECKS}/{check_id} differs from the decision POST "
                       f"returned, in members {sorted(_differing(stored, decision))}")


def _differing(one: Any, other: Any) -> set[str]:
    if not (isinstance(one, dict) and isinstance(other, dict)):
        return {"/"}
    return {key for key in one.keys() | other.keys() if one.get(key) != other.get(key)}


async def _submit_plan(session: Session, payload: Any, name: str) -> httpx.Response:
    return await session.http.post(CHECKS, json=payload, headers=await session.bearer(SCOPES), timeout=60)


@check(f"{MIM}.ppi.building-plan-valid", f"Valid {BUILDING_PLAN} examples are checked (201)", mim=MIM,
       source=f"PPI {BUILDING_PLAN} examples/valid", profile="mim")
async def building_plans_accepted(session: Session) -> None:
    await examples_accepted(session, BUILDING_PLAN, partial(_submit_plan, session), statuses=(201,))


@check(f"{MIM}.ppi.building-plan-invalid", f"Invalid {BUILDING_PLAN} examples are refused with a 4xx problem",
       mim=MIM, source=f"PPI {BUILDING_PLAN} examples/invalid", profile="mim")
async def building_plans_refused(session: Session) -> None:
    await examples_refused(session, BUILDING_PLAN, partial(_submit_plan, session))


async def _put_zoning(session: Session, payload: Any, name: str) -> httpx.Response:
    plan_id = payload.get("id") if isinstance(payload, dict) and isinstance(payload.get("id"), str) else name
    return await session.http.put(f"{ZONING}/{quote(plan_id, safe='')}", json=payload,
                                  headers=await session.bearer(SCOPES), timeout=60)


@check(f"{MIM}.ppi.zoning-plan-invalid", f"Invalid {ZONING_PLAN} examples are refused with a 4xx problem",
       mim=MIM, source=f"PPI {ZONING_PLAN} examples/invalid", profile="mim")
async def zoning_plans_refused(session: Session) -> None:
    await examples_refused(session, ZONING_PLAN, partial(_put_zoning, session))


@check(f"{MIM}.zoning.unknown-plan", "Deleting a zoning plan the twin does not hold is a 404 problem", mim=MIM,
       source=f"permit check API DELETE {ZONING}/{{id}}", profile="mim")
async def unknown_zoning_plan(session: Session) -> None:
    url = f"{ZONING}/NL.IMRO.9999.ConformanceAbsent{uuid.uuid4().hex[:12]}-va01"
    answer = await session.http.delete(url, headers=await session.bearer(SCOPES))
    problem(session, answer, (404,), f"DELETE {url}")
