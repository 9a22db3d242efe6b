"""A revocation-sensitive route of another service, asking the real identity app (RFC 7662):
a token revoked at /revoke is refused there once the short introspection cache has passed."""

from __future__ import annotations

from types import SimpleNamespace

import httpx
from fastapi import Depends, FastAPI

from mims.kit.auth import Introspector, TokenVerifier, require_scopes
from mims.kit.errors import install_exception_handlers

ISSUER = "http://127.0.0.1:8001"


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def permits_service(identity, resource_server, clock: Clock) -> FastAPI:
    """A MIM with one revocation-sensitive route, checking tokens against the identity app."""
    app = FastAPI()
    app.state.settings = SimpleNamespace(auth="required")
    app.state.token_verifier = TokenVerifier(
        jwks_url=f"{ISSUER}/jwks",
        issuers=[ISSUER],
        audience=None,
        http=identity.http,
        introspection=Introspector(
            url=f"{ISSUER}/introspect",
            client_id=resource_server.client.client_id,
            client_secret=resource_server.client_secret,
            cache_ttl=10,
            http=identity.http,
            clock=clock,
        ),
    )
    install_exception_handlers(app)

    @app.post("/permits", dependencies=[Depends(require_scopes("permit:submit", introspect=True))])
    async def submit() -> dict[str, str]:
        return {"status": "submitted"}

    return app


async def test_a_revoked_token_is_refused_after_the_cache_ttl(identity, issue) -> None:
    citizen = await identity.register(["permit:submit"])
    resource_server = await identity.register(["context:read"])
    token = await issue(identity, citizen)
    clock = Clock()
    service = permits_service(identity, resource_server, clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=service), base_url="http://permits") as http:
        headers = {"Authorization": f"Bearer {token}"}
        assert (await http.post("/permits", headers=headers)).status_code == 200

        revoked = await identity.http.post(
            "/revoke", data={"token": token}, auth=(citizen.client.client_id, citizen.client_secret)
        )
        assert revoked.status_code == 200
        clock.now = 10.0
        refused = await http.post("/permits", headers=headers)

    assert refused.status_code == 401
    assert refused.json()["detail"] == "invalid access token: token revoked or inactive"
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]


async def test_wrong_resource_server_credentials_make_the_route_unavailable(identity, issue) -> None:
    citizen = await identity.register(["permit:submit"])
    token = await issue(identity, citizen)
    impostor = SimpleNamespace(client=SimpleNamespace(client_id=citizen.client.client_id), client_secret="wrong")
    service = permits_service(identity, impostor, Clock())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=service), base_url="http://permits") as http:
        response = await http.post("/permits", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "answered HTTP 401" in response.json()["detail"]
