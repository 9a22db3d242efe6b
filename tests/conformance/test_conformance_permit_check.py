"""The permit-check checks: our permit check, served over real HTTP against a served context MIM,
passes every must-check of profile ``mim``; a variant that implements "at most" as ``<`` (a proxy
that turns each pass at exactly the limit into a fail) fails the known-answer checks of the cases at
the limit, naming case, rule, expected and got, and passes the others; one that explains itself in
Dutch only fails the explanation check."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import Response

from conformance.registry import select
from conformance.runner import Report, run
from conformance.session import Target
from mims.context.service import create_app as create_context
from mims.permit_check.service import create_app as create_permit_check
from tests.serving import free_port, served

HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "content-encoding"}


@pytest.fixture(scope="module")
def permit_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(create_context(data_dir=tmp_path_factory.mktemp("context")), free_port()) as context_url, \
            served(create_permit_check(data_dir=tmp_path_factory.mktemp("permit"), context_url=context_url),
                   free_port()) as url:
        yield url


def conformance(url: str, only: str | None = None) -> Report:
    return asyncio.run(run(Target(mim="permit-check", url=url, profile="mim"),
                           select(mim="permit-check", profile="mim", only=only)))


def failures(report: Report) -> str:
    return "\n".join(f"{r.check.id} [{r.status}] {r.message}" for r in report.results if r.status != "passed")


def strictly_below(decision: dict[str, Any]) -> dict[str, Any]:
    """The decision of a permit check whose "at most" is ``<`` for the zoning's limits: a pass at exactly
    a limit fails (the zero-area rules, nothing outside the building plane or parcel, are left alone)."""
    for result in decision.get("results", []):
        measured, limit = result.get("measured"), result.get("limit")
        if (result.get("comparator") == "<=" and result.get("verdict") == "pass" and measured and limit
                and limit["value"] != 0 and measured["value"] == limit["value"]):
            result["verdict"] = "fail"
            decision["verdict"] = "non-compliant"
    return decision


def without_english(decision: dict[str, Any]) -> dict[str, Any]:
    """The decision of a permit check that explains itself in Dutch only."""
    for result in decision.get("results", []):
        result["explanation"].pop("en", None)
    return decision


def rewriting(upstream: str, rewrite: Callable[[dict[str, Any]], dict[str, Any]]) -> FastAPI:
    """A proxy in front of our permit check that passes ``rewrite`` over each decision it answers."""
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE"])
    async def forward(path: str, request: Request) -> Response:
        async with httpx.AsyncClient(base_url=upstream, timeout=60) as client:
            answer = await client.request(request.method, f"/{path}", params=request.query_params,
                                          content=await request.body(), headers={
                                              k: v for k, v in request.headers.items() if k.lower() != "host"})
        headers = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_HEADERS}
        content = answer.content
        if request.method == "POST" and path == "v1/checks" and answer.status_code == 201:
            content = json.dumps(rewrite(answer.json())).encode()
        return Response(content, status_code=answer.status_code, headers=headers)

    return app


def test_our_permit_check_passes_every_must_check(permit_url: str) -> None:
    report = conformance(permit_url)
    ids = {r.check.id for r in report.results}
    assert {"permit-check.known-answers.height-at-the-limit", "permit-check.decision.explanations",
            "permit-check.ppi.building-plan-invalid", "permit-check.wellknown.mim"} <= ids
    assert report.certifiable, failures(report)
    assert all(r.status == "passed" for r in report.results), failures(report)


def test_a_check_using_less_than_for_at_most_fails_the_cases_at_the_limit(permit_url: str) -> None:
    with served(rewriting(permit_url, strictly_below), free_port()) as mutant:
        report = conformance(mutant, only="permit-check.known-answers.*")
    by_id = {r.check.id: r for r in report.results}
    assert not report.certifiable
    failed = {check_id for check_id, r in by_id.items() if r.status == "failed"}
    assert failed == {"permit-check.known-answers.height-at-the-limit",
                      "permit-check.known-answers.storeys-at-the-limit"}, failures(report)
    message = by_id["permit-check.known-answers.height-at-the-limit"].message
    assert "case height-at-the-limit" in message and "rule max-height: expected pass, got fail" in message
    assert "verdict: expected compliant, got non-compliant" in message


def test_a_check_explaining_itself_in_dutch_only_fails_the_explanations(permit_url: str) -> None:
    with served(rewriting(permit_url, without_english), free_port()) as mutant:
        report = conformance(mutant, only="permit-check.decision.*")
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
