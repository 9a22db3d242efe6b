"""Token verification: RFC 9068 access tokens, RFC 7517 key sets, RFC 6750 bearer challenges."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from joserfc import jwt
from joserfc.jwk import ECKey, Key, KeySet, OctKey, OKPKey, RSAKey

from mims.kit.auth import AccessToken, InvalidToken, KeySetUnavailable, TokenVerifier, require_scopes
from mims.kit.auth.rfc9068 import REQUIRED_CLAIMS
from mims.kit.problems import PROBLEM_JSON, ProblemError

ISSUER = "https://identity.rotterdam.example"
AUDIENCE = "https://context.rotterdam.example"
JWKS_URL = f"{ISSUER}/.well-known/jwks.json"

EC = ECKey.generate_key("P-256", {"kid": "ec-1"})
ED = OKPKey.generate_key("Ed25519", {"kid": "ed-1"})
RSA = RSAKey.generate_key(2048, {"kid": "rsa-1"})
ROTATED = ECKey.generate_key("P-256", {"kid": "ec-2"})
IMPOSTOR = ECKey.generate_key("P-256", {"kid": "ec-1"})
PUBLISHED = KeySet([EC, ED, RSA]).as_dict()

eddsa_is_deprecated = pytest.mark.filterwarnings("ignore:EdDSA is deprecated")


def mint(
    key: Key,
    alg: str = "ES256",
    *,
    kid: str | None = None,
    typ: str | None = "at+jwt",
    without: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    """A signed access token with sensible claims; override or drop any of them."""
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "client_id": "city-dashboard",
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "scope": "context:read marketplace:consume",
        **claims,
    }
    for claim in without:
        del body[claim]
    header = {"alg": alg, "kid": kid or key.kid, **({"typ": typ} if typ is not None else {})}
    return jwt.encode(header, body, key, algorithms=[alg], default_type=None)


def unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def segment(part: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()

    return f"{segment(header)}.{segment(claims)}."


def verifier(**overrides: Any) -> TokenVerifier:
    return TokenVerifier(**{"jwks": PUBLISHED, "issuers": [ISSUER], "audience": AUDIENCE, **overrides})


class JWKSServer:
    """An issuer's JWKS endpoint on httpx.MockTransport, counting fetches."""

    def __init__(self, document: dict[str, Any] | list[Any] | bytes, status: int = 200) -> None:
        self.document, self.status, self.fetches = document, status, 0
        self.accept: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert str(request.url) == JWKS_URL
        self.fetches += 1
        self.accept.append(request.headers["accept"])
        if isinstance(self.document, bytes):
            return httpx.Response(self.status, content=self.document)
        return httpx.Response(self.status, json=self.document)

    def verifier(self, **overrides: Any) -> TokenVerifier:
        http = httpx.AsyncClient(transport=httpx.MockTransport(self))
        return TokenVerifier(**{"jwks_url": JWKS_URL, "issuers": [ISSUER], "audience": AUDIENCE, "http": http, **overrides})


# --- RFC 9068: what makes an access token acceptable -------------------------------------------


@pytest.mark.parametrize(
    ("key", "alg"),
    [
        (EC, "ES256"),
        (RSA, "RS256"),
        (ED, "Ed25519"),
        pytest.param(ED, "EdDSA", marks=eddsa_is_deprecated),
    ],
)
async def test_valid_token_is_accepted_for_each_algorithm(key: Key, alg: str) -> None:
    token = await verifier().verify(mint(key, alg))

    assert token.sub == "alice"
    assert token.client_id == "city-dashboard"
    assert token.scopes == frozenset({"context:read", "marketplace:consume"})
    assert token.claims["iss"] == ISSUER


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT"])
async def test_access_token_media_type_is_accepted_in_every_spelling(typ: str) -> None:
    assert (await verifier().verify(mint(EC, typ=typ))).sub == "alice"


@pytest.mark.parametrize("typ", ["JWT", "id_token+jwt", None])
async def test_other_token_types_are_refused(typ: str | None) -> None:
    with pytest.raises(InvalidToken, match="not an access token"):
        await verifier().verify(mint(EC, typ=typ))


async def test_expired_token_is_refused() -> None:
    with pytest.raises(InvalidToken, match="expired"):
        await verifier().verify(mint(EC, exp=int(time.time()) - 120))


async def test_clock_skew_within_leeway_is_tolerated() -> None:
    now = int(time.time())
    token = mint(EC, exp=now - 10, iat=now + 10, nbf=now + 10)

    assert (await verifier(leeway=30).verify(token)).sub == "alice"


@pytest.mark.parametrize(("claim", "reason"), [("nbf", "not yet valid"), ("iat", "issued in the future")])
async def test_token_from_the_future_is_refused(claim: str, reason: str) -> None:
    with pytest.raises(InvalidToken, match=reason):
        await verifier().verify(mint(EC, **{claim: int(time.time()) + 600}))


async def test_untrusted_issuer_is_refused() -> None:
    with pytest.raises(InvalidToken, match="iss"):
        await verifier().verify(mint(EC, iss="https://identity.elsewhere.example"))


async def test_every_trusted_issuer_is_accepted() -> None:
    trusting = verifier(issuers=[ISSUER, "https://identity.denhaag.example"])

    assert (await trusting.verify(mint(EC, iss="https://identity.denhaag.example"))).sub == "alice"


async def test_token_for_another_audience_is_refused() -> None:
    with pytest.raises(InvalidToken, match="aud"):
        await verifier().verify(mint(EC, aud="https://marketplace.rotterdam.example"))


async def test_audience_may_be_one_of_several() -> None:
    token = mint(EC, aud=["https://marketplace.rotterdam.example", AUDIENCE])

    assert (await verifier().verify(token)).sub == "alice"


async def test_without_a_configured_audience_any_audience_passes_but_one_is_required() -> None:
    assert (await verifier(audience=None).verify(mint(EC, aud="https://any.example"))).sub == "alice"
    with pytest.raises(InvalidToken, match="aud"):
        await verifier(audience=None).verify(mint(EC, without=("aud",)))


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
async def test_each_required_claim_must_be_present(claim: str) -> None:
    with pytest.raises(InvalidToken, match=f"Missing claim: '{claim}'"):
        await verifier().verify(mint(EC, without=(claim,)))


@pytest.mark.parametrize(("claim", "value"), [("client_id", 7), ("scope", ["context:read"]), ("sub", 42)])
async def test_claims_of_the_wrong_type_are_refused(claim: str, value: Any) -> None:
    with pytest.raises(InvalidToken, match=claim):
        await verifier().verify(mint(EC, **{claim: value}))


async def test_token_without_scope_has_no_scopes() -> None:
    assert (await verifier().verify(mint(EC, without=("scope",)))).scopes == frozenset()


async def test_alg_none_is_refused() -> None:
    token = unsigned({"alg": "none", "typ": "at+jwt", "kid": "ec-1"}, {"iss": ISSUER, "sub": "mallory"})

    with pytest.raises(InvalidToken, match="'none' is not accepted"):
        await verifier().verify(token)


async def test_hmac_token_is_refused() -> None:
    token = mint(OctKey.generate_key(256, {"kid": "ec-1"}), "HS256")

    with pytest.raises(InvalidToken, match="'HS256' is not accepted"):
        await verifier().verify(token)


@pytest.mark.parametrize("public", [EC.as_pem(private=False), json.dumps(EC.as_dict(private=False)).encode()])
async def test_hmac_keyed_with_the_published_public_key_is_refused(public: bytes) -> None:
    """Algorithm confusion: the public key, which anyone can fetch, used as an HS256 secret."""
    valid_claims = jwt.decode(mint(EC), EC).claims
    signing_input = unsigned({"alg": "HS256", "typ": "at+jwt", "kid": "ec-1"}, valid_claims).rstrip(".")
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

    with pytest.raises(InvalidToken, match="'HS256' is not accepted"):
        await verifier().verify(token)


async def test_unknown_kid_is_refused() -> None:
    with pytest.raises(InvalidToken, match="no published ES256 signing key with kid 'ec-9'"):
        await verifier().verify(mint(EC, kid="ec-9"))


async def test_algorithm_outside_the_allow_list_is_refused() -> None:
    with pytest.raises(InvalidToken, match="'RS256' is not accepted"):
        await verifier(algorithms=("ES256",)).verify(mint(RSA, "RS256"))


async def test_key_of_the_wrong_type_for_the_algorithm_is_refused() -> None:
    with pytest.raises(InvalidToken, match="signature cannot be checked"):
        await verifier().verify(mint(EC, kid="rsa-1"))


@pytest.mark.parametrize("restriction", [{"use": "enc"}, {"alg": "ES384"}])
async def test_published_key_restricted_to_other_uses_is_not_used(restriction: dict[str, str]) -> None:
    restricted = {"keys": [{**EC.as_dict(private=False), **restriction}]}

    with pytest.raises(InvalidToken, match="no published ES256 signing key with kid 'ec-1'"):
        await verifier(jwks=restricted).verify(mint(EC))


async def test_tampered_payload_is_refused() -> None:
    header, _, signature = mint(EC).split(".")
    forged = unsigned({}, {"iss": ISSUER, "sub": "mallory", "scope": "context:write"}).split(".")[1]

    with pytest.raises(InvalidToken, match="signature does not verify"):
        await verifier().verify(f"{header}.{forged}.{signature}")


async def test_token_signed_by_an_impostor_reusing_a_kid_is_refused() -> None:
    with pytest.raises(InvalidToken, match="signature does not verify"):
        await verifier().verify(mint(IMPOSTOR))


@pytest.mark.parametrize("token", ["", "abc", "a.b", "a.b.c", "é.é.é", "a.b.c.d.e"])
async def test_garbage_is_refused(token: str) -> None:
    with pytest.raises(InvalidToken, match="not a JWS compact serialization"):
        await verifier().verify(token)


@pytest.mark.parametrize("algorithms", [("ES256", "HS256"), ("none",), ("hs512",)])
def test_symmetric_or_absent_algorithms_cannot_be_configured(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="cannot verify"):
        verifier(algorithms=algorithms)


def test_a_trusted_issuer_is_required() -> None:
    with pytest.raises(ValueError, match="issuer"):
        verifier(issuers=[])


@pytest.mark.parametrize("sources", [{}, {"jwks": PUBLISHED, "jwks_url": JWKS_URL}])
def test_exactly_one_key_source_is_required(sources: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        TokenVerifier(issuers=[ISSUER], audience=AUDIENCE, **sources)


# --- RFC 7517: the issuer's key set, fetched, cached and rotated --------------------------------


async def test_key_set_is_fetched_once_and_cached() -> None:
    server = JWKSServer(PUBLISHED)
    checking = server.verifier()

    await checking.verify(mint(EC))
    await checking.verify(mint(RSA, "RS256"))

    assert server.fetches == 1
    assert server.accept == ["application/jwk-set+json, application/json"]


async def test_concurrent_first_requests_share_one_fetch() -> None:
    server = JWKSServer(PUBLISHED)

    async def slow_issuer(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)
        return server(request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(slow_issuer))
    checking = TokenVerifier(jwks_url=JWKS_URL, issuers=[ISSUER], audience=AUDIENCE, http=http)

    tokens = await asyncio.gather(*(checking.verify(mint(EC)) for _ in range(10)))

    assert {token.sub for token in tokens} == {"alice"}
    assert server.fetches == 1


async def test_unknown_kid_triggers_one_refetch_so_rotation_works() -> None:
    server = JWKSServer(KeySet([EC]).as_dict())
    checking = server.verifier(jwks_min_refetch=0)
    await checking.verify(mint(EC))

    server.document = KeySet([EC, ROTATED]).as_dict()
    token = await checking.verify(mint(ROTATED))

    assert token.sub == "alice"
    assert server.fetches == 2


async def test_a_kid_still_unknown_after_the_refetch_is_refused_after_exactly_one_fetch() -> None:
    server = JWKSServer(KeySet([EC]).as_dict())
    checking = server.verifier(jwks_min_refetch=0)
    await checking.verify(mint(EC))

    with pytest.raises(InvalidToken, match="no published ES256 signing key with kid 'ec-2'"):
        await checking.verify(mint(ROTATED))
    assert server.fetches == 2


async def test_refetches_for_unknown_kids_are_rate_limited() -> None:
    server = JWKSServer(KeySet([EC]).as_dict())
    checking = server.verifier(jwks_min_refetch=60)
    await checking.verify(mint(EC))

    for _ in range(5):
        with pytest.raises(InvalidToken, match="kid"):
            await checking.verify(mint(ROTATED))
    assert server.fetches == 1


async def test_key_set_is_refreshed_after_its_ttl() -> None:
    server = JWKSServer(PUBLISHED)
    checking = server.verifier(jwks_ttl=0, jwks_min_refetch=0)

    await checking.verify(mint(EC))
    await checking.verify(mint(EC))

    assert server.fetches == 2


async def test_a_failed_refresh_keeps_the_last_good_key_set() -> None:
    server = JWKSServer(PUBLISHED)
    checking = server.verifier(jwks_ttl=0, jwks_min_refetch=0)
    await checking.verify(mint(EC))

    server.status = 503
    token = await checking.verify(mint(EC))

    assert token.sub == "alice"
    assert server.fetches == 2


@pytest.mark.parametrize(
    ("document", "status"),
    [(PUBLISHED, 500), ([], 200), ({"keys": []}, 200), (b"not json", 200), (b" " * (300 * 1024), 200)],
)
async def test_without_any_key_set_tokens_cannot_be_checked(document: Any, status: int) -> None:
    checking = JWKSServer(document, status).verifier()

    with pytest.raises(KeySetUnavailable, match=JWKS_URL):
        await checking.verify(mint(EC))


async def test_unreachable_issuer_is_reported_as_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(refuse))
    checking = TokenVerifier(jwks_url=JWKS_URL, issuers=[ISSUER], audience=AUDIENCE, http=http)

    with pytest.raises(KeySetUnavailable, match="connection refused"):
        await checking.verify(mint(EC))


async def test_a_verifier_leaves_a_shared_client_open() -> None:
    shared = httpx.AsyncClient(transport=httpx.MockTransport(JWKSServer(PUBLISHED)))
    await TokenVerifier(jwks_url=JWKS_URL, issuers=[ISSUER], audience=AUDIENCE, http=shared).aclose()

    assert not shared.is_closed
    await shared.aclose()


# --- RFC 6750: the route dependency and its challenges ------------------------------------------


def build_app(token_verifier: TokenVerifier | None, auth: str = "required") -> FastAPI:
    app = FastAPI()
    app.state.settings = SimpleNamespace(auth=auth)
    app.state.token_verifier = token_verifier

    @app.exception_handler(ProblemError)
    async def problem(request: Request, exc: ProblemError) -> JSONResponse:
        return JSONResponse(
            exc.to_dict(request.url.path), status_code=exc.status, headers=exc.headers, media_type=PROBLEM_JSON
        )

    @app.get("/entities")
    async def read(token: AccessToken | None = Depends(require_scopes("context:read"))) -> dict[str, Any]:
        return {"sub": token.sub if token else None}

    @app.post("/entities")
    async def write(request: Request, _: Any = Depends(require_scopes("context:read", "context:write"))) -> dict:
        return {"sub": request.state.token.sub}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(verifier()))
    async with httpx.AsyncClient(transport=transport, base_url="http://mim") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_request_with_a_valid_token_and_scope_passes(client: httpx.AsyncClient) -> None:
    response = await client.get("/entities", headers=bearer(mint(EC)))

    assert response.status_code == 200
    assert response.json() == {"sub": "alice"}


async def test_verified_token_is_kept_on_the_request(client: httpx.AsyncClient) -> None:
    token = mint(EC, scope="context:read context:write")

    assert (await client.post("/entities", headers=bearer(token))).json() == {"sub": "alice"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic YWxpY2U6c2VjcmV0"}])
async def test_request_without_bearer_credentials_gets_a_bare_challenge(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get("/entities", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="oup"'
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem["status"] == 401
    assert problem["errors"][0] == {
        "pointer": "/authorization",
        "detail": "expected 'Bearer <access token>'",
        "location": "header",
    }


@pytest.mark.parametrize("value", ["Bearer", "Bearer ", "Bearer two tokens", "Bearer bad\"token", "Bearer =abc"])
async def test_malformed_bearer_credentials_are_an_invalid_request(client: httpx.AsyncClient, value: str) -> None:
    response = await client.get("/entities", headers={"Authorization": value})

    assert response.status_code == 400
    assert response.headers["www-authenticate"] == 'Bearer realm="oup", error="invalid_request"'
    assert response.json()["errors"][0]["location"] == "header"


async def test_scheme_name_is_case_insensitive(client: httpx.AsyncClient) -> None:
    response = await client.get("/entities", headers={"Authorization": f"bearer {mint(EC)}"})

    assert response.status_code == 200


async def test_invalid_token_is_challenged_with_the_reason(client: httpx.AsyncClient) -> None:
    response = await client.get("/entities", headers=bearer(mint(EC, exp=int(time.time()) - 3600)))

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="oup", error="invalid_token", error_description="The token is expired"'
    )
    assert response.json()["detail"] == "invalid access token: The token is expired"


async def test_error_description_stays_a_valid_quoted_string(client: httpx.AsyncClient) -> None:
    response = await client.get("/entities", headers=bearer(mint(EC, typ='JWT", error="none\\')))

    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="oup", error="invalid_token", error_description="')
    assert challenge.count('"') == 6
    assert "\\" not in challenge


async def test_missing_scope_is_forbidden_naming_the_scopes_needed(client: httpx.AsyncClient) -> None:
    response = await client.post("/entities", headers=bearer(mint(EC, scope="context:read")))

    assert response.status_code == 403
    assert response.headers["www-authenticate"] == (
        'Bearer realm="oup", error="insufficient_scope", scope="context:read context:write"'
    )
    assert response.json()["detail"] == "the access token lacks scope context:write"


async def test_unavailable_key_set_is_a_server_side_503() -> None:
    app = build_app(JWKSServer(PUBLISHED, status=500).verifier())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mim") as client:
        response = await client.get("/entities", headers=bearer(mint(EC)))

    assert response.status_code == 503
    assert response.json()["title"] == "Service Unavailable"


async def test_auth_off_lets_every_request_through() -> None:
    app = build_app(None, auth="off")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mim") as client:
        anonymous = await client.get("/entities")
        garbage = await client.get("/entities", headers={"Authorization": "Bearer not-a-jwt"})

    assert (anonymous.status_code, anonymous.json()) == (200, {"sub": None})
    assert garbage.status_code == 200


async def test_required_auth_without_a_verifier_is_a_configuration_error() -> None:
    app = build_app(None)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, raise_app_exceptions=True), base_url="http://mim"
    ) as client:
        with pytest.raises(RuntimeError, match="no token verifier"):
            await client.get("/entities", headers=bearer(mint(EC)))


def test_protected_routes_declare_the_bearer_scheme_in_openapi() -> None:
    document = build_app(verifier()).openapi()

    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "RFC 9068 JWT access token",
    }
    assert document["paths"]["/entities"]["get"]["security"] == [{"bearer": []}]
