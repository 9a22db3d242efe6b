"""Zoning plans put into and removed from the digital twin over HTTP (``/v1/zoning-plans``), against
a served context MIM: what a PUT publishes is what the next check is decided on, a re-PUT replaces
the plan (features it no longer has are gone), a DELETE takes it out, refusals point at the member,
and only the scope ``permit:zoning`` may write zoning, at the service and through the gateway."""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

import ppi_schemas
from gateway.service import create_app as create_gateway
from mims.context.service import create_app as create_context
from mims.kit.auth import TokenVerifier
from mims.permit_check.service import create_app as create_permit_check
from tests.serving import free_port, served

CASES = ppi_schemas.get("permit-decision@1.0.0").path / "known-answers"
ISSUER = "http://127.0.0.1:9/zoning"
KEY = ECKey.generate_key("P-256", {"kid": "zoning-1"})


def case(name: str) -> dict[str, Any]:
    return json.loads((CASES / f"{name}.json").read_text("utf-8"))


def zoning_plan(number: int) -> dict[str, Any]:
    """The known-answer zoning plan under an id of this test's own, moved ``number`` km east so
    that plans of different tests never overlap."""
    plan = copy.deepcopy(case("compliant")["zoningPlan"])
    plan_id = f"NL.IMRO.9999.ZoningApiTest{number}-va01"
    plan = json.loads(json.dumps(plan).replace(plan["id"], plan_id))
    for feature in plan["features"]:
        feature["geometry"]["coordinates"] = [[[x + 1000 * number, y] for x, y in ring]
                                              for ring in feature["geometry"]["coordinates"]]
    return plan


def building_plan(number: int, **members: Any) -> dict[str, Any]:
    """The known-answer block (with its parcel), moved as ``zoning_plan(number)`` is."""
    plan = copy.deepcopy(case("compliant")["plan"])
    for geometry in (plan["footprint"], plan["parcel"]["geometry"]):
        geometry["coordinates"] = [[[x + 1000 * number, y] for x, y in ring] for ring in geometry["coordinates"]]
    return {**plan, **members}


@pytest.fixture(scope="module")
def context_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(create_context(data_dir=tmp_path_factory.mktemp("context")), free_port()) as url:
        yield url


@pytest.fixture(scope="module")
def permit_url(tmp_path_factory: pytest.TempPathFactory, context_url: str) -> Iterator[str]:
    with served(create_permit_check(data_dir=tmp_path_factory.mktemp("permit"), context_url=context_url),
                free_port()) as url:
        yield url


def put(base: str, plan: dict[str, Any], plan_id: str | None = None, **kwargs: Any) -> httpx.Response:
    return httpx.put(f"{base}/v1/zoning-plans/{plan_id or plan['id']}", json=plan, timeout=60, **kwargs)


def height_rule(base: str, plan: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{base}/v1/checks", json=plan, params={"municipality": "default"}, timeout=60)
    assert answer.status_code == 201, answer.text
    [found] = [r for r in answer.json()["results"] if r["rule"] == "max-height"]
    return found


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_a_put_plan_decides_the_next_check_and_a_delete_removes_it(permit_url: str) -> None:
    plan = zoning_plan(1)
    created = put(permit_url, plan)
    assert created.status_code == 201, created.text
    assert created.json() == {"id": plan["id"], "status": "vastgesteld", "features": 3, "added": 3, "updated": 0,
                              "removed": 0}
    limit = height_rule(permit_url, building_plan(1, height=12.0))
    assert (limit["verdict"], limit["limit"]) == ("pass", {"value": 12, "unit": "m"})
    assert height_rule(permit_url, building_plan(1, height=12.01))["verdict"] == "fail"

    assert httpx.delete(f"{permit_url}/v1/zoning-plans/{plan['id']}", timeout=60).status_code == 204
    without = height_rule(permit_url, building_plan(1, height=12.01))  # no zoning at the footprint any more
    assert (without["verdict"], without["limit"]) == ("insufficient-data", None)
    problem(httpx.delete(f"{permit_url}/v1/zoning-plans/{plan['id']}", timeout=60), 404)


def test_a_second_put_replaces_the_plan(permit_url: str) -> None:
    plan = zoning_plan(2)
    assert put(permit_url, plan).status_code == 201
    lower = copy.deepcopy(plan)
    lower["features"] = [f for f in lower["features"] if f["kind"] != "maatvoering"]
    replaced = put(permit_url, lower)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["removed"] == 1 and replaced.json()["updated"] == 2
    assert height_rule(permit_url, building_plan(2, height=20.0))["verdict"] == "not-applicable"
    assert httpx.delete(f"{permit_url}/v1/zoning-plans/{plan['id']}", timeout=60).status_code == 204


def test_an_invalid_plan_is_refused_pointing_at_the_member(permit_url: str) -> None:
    plan = zoning_plan(3)
    wrong = copy.deepcopy(plan)
    wrong["features"][2]["measurements"][0]["value"] = "twelve"
    refused = problem(put(permit_url, wrong), 400)
    assert any(e["pointer"] == "/features/2/measurements/0/value" for e in refused["errors"]), refused
    other = problem(put(permit_url, plan, plan_id="NL.IMRO.9999.SomethingElse-va01"), 400)
    assert [e["pointer"] for e in other["errors"]] == ["/id"]
    garbage = httpx.put(f"{permit_url}/v1/zoning-plans/{plan['id']}", content=b"{not json", timeout=30,
                        headers={"Content-Type": "application/json"})
    problem(garbage, 400)
    not_an_idn = problem(put(permit_url, plan, plan_id="not-an-imro-idn"), 400)
    assert [e["pointer"] for e in not_an_idn["errors"]] == ["/plan_id"]
    # nothing of it reached the twin
    problem(httpx.delete(f"{permit_url}/v1/zoning-plans/{plan['id']}", timeout=60), 404)


def test_the_service_declares_that_it_consumes_zoning_plans(permit_url: str) -> None:
    described = httpx.get(f"{permit_url}/.well-known/mim", timeout=10).json()
    assert {"ppi": "zoning-plan", "version": "1.0.0"}.items() <= next(
        p for p in described["consumes"] if p["ppi"] == "zoning-plan").items()


# -- scopes ----------------------------------------------------------------------------------------


def bearer(scope: str, audience: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": audience, "sub": "planner", "client_id": "plan-system", "iat": now,
              "exp": now + 300, "jti": uuid.uuid4().hex, "scope": scope}
    token = jwt.encode({"alg": "ES256", "kid": KEY.kid, "typ": "at+jwt"}, claims, KEY, algorithms=["ES256"])
    return {"Authorization": f"Bearer {token}"}


def verifier() -> TokenVerifier:
    return TokenVerifier(jwks=KeySet([KEY]).as_dict(), issuers=[ISSUER], audience=None)


def test_writing_zoning_needs_the_zoning_scope_at_the_service(tmp_path: Path, context_url: str) -> None:
    app = create_permit_check(data_dir=tmp_path, context_url=context_url, auth="required", issuers=[ISSUER],
                              jwks_url=ISSUER + "/jwks")
    app.state.token_verifier = verifier()
    plan = zoning_plan(4)
    with served(app, free_port()) as url:
        assert put(url, plan).status_code == 401
        assert put(url, plan, headers=bearer("permit:submit", "permit-check")).status_code == 403
        assert put(url, plan, headers=bearer("permit:zoning", "permit-check")).status_code == 201
        gone = httpx.delete(f"{url}/v1/zoning-plans/{plan['id']}", headers=bearer("permit:zoning", "permit-check"),
                            timeout=60)
        assert gone.status_code == 204


def test_the_gateway_asks_the_zoning_scope_for_zoning_routes(tmp_path: Path, context_url: str) -> None:
    plan = zoning_plan(5)
    with ExitStack() as stack:
        permit = stack.enter_context(served(create_permit_check(data_dir=tmp_path / "permit", context_url=context_url),
                                            free_port()))
        app = create_gateway(data_dir=tmp_path / "gateway", permit_check_url=permit, issuers=[ISSUER],
                             jwks_url=ISSUER + "/jwks", rate_limit="off")
        app.state.token_verifier = verifier()
        gateway = stack.enter_context(served(app, free_port())) + "/permit-check"
        assert put(gateway, plan, headers=bearer("permit:submit", "gateway")).status_code == 403
        assert put(gateway, plan, headers=bearer("permit:zoning", "gateway")).status_code == 201
        checked = httpx.post(f"{gateway}/v1/checks", json=building_plan(5), headers=bearer("permit:submit", "gateway"),
                             timeout=60)
        assert checked.status_code == 201 and checked.json()["verdict"] == "compliant", checked.text
        gone = httpx.delete(f"{gateway}/v1/zoning-plans/{plan['id']}", headers=bearer("permit:zoning", "gateway"),
                            timeout=60)
        assert gone.status_code == 204
