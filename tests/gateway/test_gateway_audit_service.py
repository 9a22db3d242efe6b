"""The audit log inside the gateway itself: refused data requests become records an
administrator reads back through the audit API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import KeySet

from gateway.service import create_app
from gateway.settings import GatewaySettings
from mims.kit.auth import TokenVerifier
from tests.gateway.test_gateway_audit import AUDIENCE, ISSUER, KEY, token


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    settings = GatewaySettings(data_dir=tmp_path, issuers=[ISSUER], jwks_url=f"{ISSUER}/jwks", audience=AUDIENCE,
                               identity_url="http://127.0.0.1:9", context_url="http://127.0.0.1:9")
    app = create_app(settings)
    app.state.token_verifier = TokenVerifier(jwks=KeySet([KEY]).as_dict(), issuers=[ISSUER], audience=AUDIENCE)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test") as http:
        yield http, app


async def test_refused_data_requests_are_audited(gateway: tuple[httpx.AsyncClient, FastAPI]) -> None:
    http, app = gateway

    anonymous = await http.get("/ngsi-ld/v1/entities", params={"type": "ParkingSpot"})
    unscoped = await http.get("/ngsi-ld/v1/entities", params={"type": "ParkingSpot"}, headers=token("marketplace:consume"))
    await app.state.audit.flush()
    records = (await http.get("/admin/audit", params={"decision": "deny"}, headers=token())).json()

    assert (anonymous.status_code, unscoped.status_code) == (401, 403)
    assert [(r["client_id"], r["status"], r["route"], r["entity_type"], r["method"]) for r in records] == [
        ("audit-desk", 403, "ngsi-ld-read", "ParkingSpot", "GET"),
        (None, 401, "ngsi-ld-read", "ParkingSpot", "GET"),
    ]
    assert records[0]["reason"] == "insufficient_scope"
    assert records[0]["issuer"] == ISSUER and records[0]["subject"] == "auditor"
