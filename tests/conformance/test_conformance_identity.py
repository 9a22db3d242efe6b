"""The identity checks: our identity MIM, served over real HTTP, passes every must-check of both
profiles; small fake providers that leak a private key, repeat a kid, name another issuer or leave
``typ`` out fail the named check."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from joserfc import jwt
from joserfc.jwk import ECKey

from conformance.registry import select
from conformance.runner import Report, run
from conformance.session import Target
from mims.identity.bootstrap import identity_storage
from mims.identity.clients import register_client
from mims.identity.service import SPEC, create_app
from mims.identity.storage import SqlClientStore
from tests.serving import free_port, served


async def _registered(data_dir: Path, issuer: str, method: str,
                      scopes: tuple[str, ...] = ("context:read",)) -> tuple[str, str]:
    """A confidential client in the identity MIM's database, made before the service starts."""
    settings = SPEC.settings(data_dir=data_dir, issuer=issuer)
    async with identity_storage(settings) as engine:
        registration = await register_client(SqlClientStore(engine), name="conformance suite",
                                             scopes=list(scopes), platform_scopes=settings.scopes,
                                             token_endpoint_auth_method=method)
    return registration.client.client_id, registration.client_secret


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, tuple[str, str]]]]:
    """Our identity MIM on a loopback port: its URL, and a client id and secret per secret method."""
    data_dir = tmp_path_factory.mktemp("identity")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    clients = {method: asyncio.run(_registered(data_dir, url, method))
               for method in ("client_secret_basic", "client_secret_post")}
    # A client that may have what the invalid token-exchange example "wrong-grant-type" asks for.
    clients["permit:submit"] = asyncio.run(_registered(data_dir, url, "client_secret_basic",
                                                       ("context:read", "permit:submit")))
    with served(create_app(data_dir=data_dir, issuer=url), port) as base:
        yield base, clients


def _failures(report: Report) -> str:
    return "\n".join(f"{r.check.id} [{r.status}] {r.message}" for r in report.results
                     if r.status in ("failed", "error"))


@pytest.mark.parametrize("profile", ["standard", "mim"])
async def test_our_identity_mim_passes_every_must_check(identity, profile):
    url, clients = identity
    client_id, secret = clients["client_secret_basic"]
    target = Target(mim="identity", url=url, profile=profile, client_id=client_id, client_secret=secret)
    report = await run(target, select(mim="identity", profile=profile))
    assert report.counts()["must_failed"] == 0 and report.certifiable, _failures(report)
    statuses = {r.check.id: r.status for r in report.results}
    assert statuses["identity.revocation.effective"] == "passed"
    assert statuses["identity.token.jwt_signature"] == "passed"
    assert all(status == "passed" for status in statuses.values()), statuses
    if profile == "mim":
        assert statuses["identity.ppi.introspection"] == "passed"


async def test_an_invalid_exchange_example_served_as_another_grant_the_client_may_use_is_no_failure(identity):
    """``wrong-grant-type`` is a client_credentials request with extra parameters; a client that
    may have its scope gets a token (RFC 6749 §3.2: unknown parameters are ignored), not a refusal."""
    url, clients = identity
    client_id, secret = clients["permit:submit"]
    target = Target(mim="identity", url=url, profile="mim", client_id=client_id, client_secret=secret)
    checks = [c for c in select(mim="identity", profile="mim") if c.id == "identity.token_exchange.invalid_refused"]
    [result] = (await run(target, checks)).results
    assert result.status == "passed", result.message
    assert any("wrong-grant-type: answered as a client_credentials request" in note for note in result.notes)


async def test_a_client_secret_post_client_is_served_by_falling_back_with_a_note(identity):
    """The metadata advertises client_secret_basic first; this client may only use post."""
    url, clients = identity
    client_id, secret = clients["client_secret_post"]
    target = Target(mim="identity", url=url, profile="standard", client_id=client_id, client_secret=secret)
    report = await run(target, select(mim="identity", profile="standard"))
    assert report.certifiable, _failures(report)
    notes = [note for result in report.results for note in result.notes]
    assert any("refused client_secret_basic for this client and accepted client_secret_post" in n for n in notes), notes
    refused_basic = [exchange.url for result in report.results if result.check.id != "identity.errors.invalid_client"
                     for exchange in result.evidence if exchange.status == 401
                     and exchange.request_headers.get("authorization", "").startswith("Basic")]
    assert len(refused_basic) == 1, f"basic was tried again after the fallback had worked: {refused_basic}"


def _b64(number: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes(32, "big")).rstrip(b"=").decode()


def fake_provider(base: str, *, issuer: str | None = None, keys: list[dict[str, Any]] | None = None,
                  typ: str = "at+jwt", leaky: bool = False) -> FastAPI:
    """A minimal provider, compliant unless told otherwise: metadata naming ``issuer``, a JWK Set of
    ``keys``, a token endpoint (client ``c``, secret ``s``) issuing JWTs of ``typ`` whose iss is
    always ``base``, introspection and revocation (``leaky``: introspection without caller
    authentication, every token active, revocation ignored)."""
    signing = ECKey.generate_key("P-256", parameters={"kid": "k1"}, private=True)
    issued: set[str] = set()
    app = FastAPI()
    basic = "Basic " + base64.b64encode(b"c:s").decode()

    def refused() -> JSONResponse:
        return JSONResponse({"error": "invalid_client"}, 401, headers={"WWW-Authenticate": "Basic"})

    @app.post("/introspect")
    async def introspect(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != basic and not leaky:
            return refused()
        token = parse_qs((await request.body()).decode()).get("token", [""])[0]
        active = leaky or token in issued
        return JSONResponse({"active": True, "client_id": "c"} if active else {"active": False})

    @app.post("/revoke")
    async def revoke(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != basic:
            return refused()
        issued.discard(parse_qs((await request.body()).decode()).get("token", [""])[0])
        return JSONResponse({})

    @app.get("/.well-known/oauth-authorization-server")
    async def metadata() -> dict[str, Any]:
        return {"issuer": issuer or base, "token_endpoint": f"{base}/token", "jwks_uri": f"{base}/jwks",
                "response_types_supported": [], "grant_types_supported": ["client_credentials"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "introspection_endpoint": f"{base}/introspect", "revocation_endpoint": f"{base}/revoke"}

    @app.get("/jwks")
    async def jwks() -> dict[str, Any]:
        return {"keys": keys if keys is not None else [signing.as_dict(private=False)]}

    @app.post("/token")
    async def token(request: Request) -> JSONResponse:
        if request.headers.get("authorization") != basic:
            return refused()
        if parse_qs((await request.body()).decode()).get("grant_type") != ["client_credentials"]:
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        now = int(time.time())
        claims = {"iss": base, "exp": now + 60, "aud": "x", "sub": "c", "client_id": "c", "iat": now, "jti": str(now)}
        access_token = jwt.encode({"alg": "ES256", "kid": "k1", "typ": typ}, claims, signing)
        issued.add(access_token)
        return JSONResponse({"access_token": access_token, "token_type": "Bearer", "expires_in": 60, "scope": ""},
                            headers={"Cache-Control": "no-store"})

    return app


def _statuses_against(make: Any) -> dict[str, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with served(make(base), port):
        report = asyncio.run(run(Target(mim="identity", url=base, profile="standard", client_id="c",
                                         client_secret="s"), select(mim="identity", profile="standard")))
    return {r.check.id: f"{r.status}: {r.message}" for r in report.results}


def test_a_minimal_compliant_provider_passes_or_skips_every_check():
    """The standard profile demands nothing of OUP's own: what the fake does not offer is skipped."""
    statuses = _statuses_against(fake_provider)
    broken = {check_id: status for check_id, status in statuses.items() if not status.startswith(("passed", "skipped"))}
    assert not broken, broken
    for check_id in ("identity.discovery.issuer", "identity.jwks.kid", "identity.jwks.public_only",
                     "identity.token.jwt_typ", "identity.token.jwt_signature", "identity.token.jwt_claims",
                     "identity.errors.invalid_client", "identity.errors.unsupported_grant_type",
                     "identity.introspection.caller_auth", "identity.introspection.garbage",
                     "identity.introspection.active", "identity.revocation.effective"):
        assert statuses[check_id].startswith("passed"), statuses[check_id]


def test_private_duplicate_and_symmetric_keys_fail_the_jwks_checks():
    key = {"kty": "EC", "crv": "P-256", "kid": "same", "x": _b64(1), "y": _b64(2)}
    leaked = [key, {**key, "d": _b64(3)}, {"kty": "oct", "kid": "hmac", "k": _b64(4)}]
    statuses = _statuses_against(lambda base: fake_provider(base, keys=leaked))
    assert statuses["identity.jwks.kid"].startswith("failed: kid shared by several keys: same"), statuses
    assert statuses["identity.jwks.public_only"].startswith("failed: the JWK Set publishes private"), statuses


def test_a_foreign_issuer_and_a_missing_typ_fail_their_checks():
    statuses = _statuses_against(lambda base: fake_provider(base, issuer="https://elsewhere.example", typ="JWT"))
    assert statuses["identity.discovery.issuer"].startswith("failed: issuer is 'https://elsewhere.example'"), statuses
    assert statuses["identity.token.jwt_typ"].startswith("failed: the access token's typ is 'JWT'"), statuses
    assert statuses["identity.token.jwt_claims"].startswith("failed: iss is 'http://127.0.0.1:"), statuses


def test_introspection_without_caller_authentication_and_ignored_revocation_fail():
    statuses = _statuses_against(lambda base: fake_provider(base, leaky=True))
    assert statuses["identity.introspection.caller_auth"].startswith(
        "failed: introspection with no caller authentication answered 200"), statuses
    assert statuses["identity.introspection.garbage"].startswith("failed: a made-up token is introspected as"), statuses
    assert statuses["identity.revocation.effective"].startswith("failed: after revocation the token is still"), statuses
