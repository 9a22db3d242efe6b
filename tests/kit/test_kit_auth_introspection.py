"""Revocation-sensitive routes: ``require_scopes(..., introspect=True)`` asks the issuer (RFC 7662)."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from fastapi import Depends, FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from mims.kit.auth import (
    IntrospectionUnavailable,
    Introspector,
    InvalidToken,
    TokenVerifier,
    TrustList,
    require_scopes,
)
from mims.kit.errors import install_exception_handlers

ISSUER = "https://identity.rotterdam.example"
INTROSPECT = f"{ISSUER}/introspect"
AUDIENCE = "https://permits.rotterdam.example"
KEY = ECKey.generate_key("P-256", {"kid": "ec-1"})
FOREIGN = ECKey.generate_key("P-256", {"kid": "dh-1"})
DEN_HAAG = "https://id.denhaag.example"


def mint(key: ECKey = KEY, iss: str = ISSUER) -> str:
    now = int(time.time())
    claims = {"iss": iss, "aud": AUDIENCE, "sub": "alice", "client_id": "portal", "iat": now, "exp": now + 300}
    return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "at+jwt"}, {**claims, "jti": uuid.uuid4().hex}, key)


class Issuer:
    """The issuer's introspection endpoint: answers from ``active``, recording each call."""

    def __init__(self, active: Callable[[str], bool] = lambda token: True) -> None:
        self.active = active
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if str(request.url) == f"{DEN_HAAG}/jwks":
            return httpx.Response(200, json=KeySet([FOREIGN]).as_dict(private=False))
        assert str(request.url) == INTROSPECT
        self.calls.append(request)
        token = parse_qs(request.content.decode())["token"][0]
        return httpx.Response(200, json={"active": self.active(token)})


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def verifier(issuer: Issuer | Callable[[httpx.Request], httpx.Response], clock: Clock | None = None, **options: Any):
    http = httpx.AsyncClient(transport=httpx.MockTransport(issuer))
    introspection = Introspector(
        url=INTROSPECT, client_id="permits", client_secret="s3cret", http=http, clock=clock or Clock(), **options
    )
    trust = SimpleNamespace(
        current=_async(
            TrustList.from_document(
                {
                    "issuers": [
                        {
                            "issuer": DEN_HAAG,
                            "jwks_uri": f"{DEN_HAAG}/jwks",
                            "scope_map": {"inwoner": ["permit:submit"]},
                            "allowed_audiences": [AUDIENCE],
                        }
                    ]
                }
            )
        ),
        aclose=_async(None),
    )
    return TokenVerifier(
        jwks=KeySet([KEY]).as_dict(),
        issuers=[ISSUER],
        audience=AUDIENCE,
        http=http,
        trust=trust,
        introspection=introspection,
    )


def _async(value: Any) -> Callable[[], Any]:
    async def give() -> Any:
        return value

    return give


async def test_the_issuer_is_asked_as_this_resource_server() -> None:
    issuer = Issuer()
    token = mint()

    assert (await verifier(issuer).verify(token, introspect=True)).sub == "alice"

    (call,) = issuer.calls
    assert call.method == "POST"
    assert call.headers["authorization"] == "Basic " + base64.b64encode(b"permits:s3cret").decode()
    assert parse_qs(call.content.decode()) == {"token": [token], "token_type_hint": ["access_token"]}


async def test_an_inactive_token_is_refused() -> None:
    with pytest.raises(InvalidToken, match="token revoked or inactive"):
        await verifier(Issuer(lambda token: False)).verify(mint(), introspect=True)


async def test_without_introspect_the_issuer_is_not_asked() -> None:
    issuer = Issuer(lambda token: False)

    assert (await verifier(issuer).verify(mint())).sub == "alice"
    assert issuer.calls == []


async def test_answers_are_reused_for_the_cache_ttl_then_asked_again() -> None:
    revoked: set[str] = set()
    issuer, clock = Issuer(lambda token: token not in revoked), Clock()
    checking, token = verifier(issuer, clock, cache_ttl=10), mint()
    await checking.verify(token, introspect=True)

    revoked.add(token)
    clock.now = 9.9
    assert (await checking.verify(token, introspect=True)).sub == "alice"
    clock.now = 10.0
    with pytest.raises(InvalidToken, match="revoked"):
        await checking.verify(token, introspect=True)
    assert len(issuer.calls) == 2


async def test_foreign_tokens_cannot_be_checked_for_revocation_here() -> None:
    issuer = Issuer()

    with pytest.raises(InvalidToken, match="exchange it for a token of this platform"):
        await verifier(issuer).verify(mint(FOREIGN, DEN_HAAG), introspect=True)
    assert issuer.calls == []


@pytest.mark.parametrize(
    "answer",
    [httpx.Response(401, json={"error": "invalid_client"}), httpx.Response(200, json={"active": "yes"}), None],
)
async def test_an_endpoint_that_cannot_answer_is_unavailable(answer: httpx.Response | None) -> None:
    def endpoint(request: httpx.Request) -> httpx.Response:
        if answer is None:
            raise httpx.ConnectError("connection refused", request=request)
        return answer

    with pytest.raises(IntrospectionUnavailable, match=INTROSPECT):
        await verifier(endpoint).verify(mint(), introspect=True)


async def test_failures_are_not_cached() -> None:
    answers = [httpx.Response(503), httpx.Response(200, json={"active": True})]
    checking, token = verifier(lambda request: answers.pop(0)), mint()

    with pytest.raises(IntrospectionUnavailable):
        await checking.verify(token, introspect=True)
    assert (await checking.verify(token, introspect=True)).sub == "alice"


# --- over HTTP: the route dependency --------------------------------------------------------


def build_app(token_verifier: TokenVerifier | None) -> FastAPI:
    app = FastAPI()
    app.state.settings = SimpleNamespace(auth="required")
    app.state.token_verifier = token_verifier
    install_exception_handlers(app)

    @app.post("/permits", dependencies=[Depends(require_scopes(introspect=True))])
    async def submit() -> dict[str, str]:
        return {"status": "submitted"}

    @app.get("/permits", dependencies=[Depends(require_scopes())])
    async def read() -> dict[str, str]:
        return {"status": "listed"}

    return app


async def call(app: FastAPI, method: str, token: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://permits") as client:
        return await client.request(method, "/permits", headers={"Authorization": f"Bearer {token}"})


async def test_a_revoked_token_is_refused_by_the_sensitive_route_only() -> None:
    app = build_app(verifier(Issuer(lambda token: False)))
    token = mint()

    refused = await call(app, "POST", token)
    listed = await call(app, "GET", token)

    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == (
        'Bearer realm="oup", error="invalid_token", error_description="token revoked or inactive"'
    )
    assert refused.json()["detail"] == "invalid access token: token revoked or inactive"
    assert listed.status_code == 200


async def test_an_unreachable_introspection_endpoint_is_a_503_problem() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    response = await call(build_app(verifier(down)), "POST", mint())

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert INTROSPECT in response.json()["detail"]


async def test_introspection_without_an_endpoint_is_a_configuration_error() -> None:
    plain = TokenVerifier(jwks=KeySet([KEY]).as_dict(), issuers=[ISSUER], audience=AUDIENCE)

    with pytest.raises(RuntimeError, match="no introspection endpoint is configured"):
        await plain.verify(mint(), introspect=True)
