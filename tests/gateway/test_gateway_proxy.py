"""The gateway's front door over real HTTP: routing, streaming, the PEP, PPI checks, limits, ops endpoints.

Upstreams are real apps on loopback ports: the context MIM, and a small stand-in MIM for what the
context MIM cannot be made to do (answer slowly, stream megabytes, echo headers, redirect).
Tokens are signed here; their keys are published by a small JWKS app.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from serving import free_port, served

import mims.context.service
from gateway.grants import CachedGrants, Grant
from gateway.routes import InvalidRouteTable, load_routes
from gateway.service import create_app
from gateway.settings import GatewaySettings

OWN = "https://id.city.example"
FOREIGN = "https://id.other-city.example"
AUDIENCE = "https://gateway.city.example"
OWN_KEY = ECKey.generate_key("P-256", {"kid": "own-1"})
FOREIGN_KEY = ECKey.generate_key("P-256", {"kid": "foreign-1"})
BIG = 5 * 1024 * 1024


def mint(key: ECKey = OWN_KEY, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": OWN, "aud": AUDIENCE, "sub": "alice", "client_id": "dashboard", "iat": now,
            "exp": now + 300, "jti": uuid.uuid4().hex, "scope": "context:read context:write", **claims}
    return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "at+jwt"}, body, key)


def bearer(token: str | None = None, **claims: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token or mint(**claims)}"}


def keys_app() -> FastAPI:
    app = FastAPI()

    @app.get("/own/jwks")
    async def own() -> dict[str, Any]:
        return KeySet([OWN_KEY]).as_dict(private=False)

    @app.get("/foreign/jwks")
    async def foreign() -> dict[str, Any]:
        return KeySet([FOREIGN_KEY]).as_dict(private=False)

    return app


def stand_in_app() -> FastAPI:
    """A MIM stand-in: echoes headers, redirects, streams, counts uploads, sleeps."""
    app = FastAPI()

    @app.get("/ngsi-ld/v1/echo")
    async def echo(request: Request) -> Response:
        return JSONResponse(dict(request.headers), headers={
            "NGSILD-Results-Count": "7", "Link": '<https://example.org/ctx.jsonld>; rel="http://www.w3.org/ns/json-ld#context"',
            "NGSILD-Tenant": "city"})

    @app.get("/ngsi-ld/v1/cookie")
    async def cookie() -> Response:
        return Response(headers={"Set-Cookie": "session=secret; Path=/; HttpOnly"})

    @app.get("/ngsi-ld/v1/raw/{rest:path}")
    async def raw(request: Request) -> dict[str, str]:
        return {"path": request.scope["raw_path"].decode("latin-1"),
                "query": request.scope["query_string"].decode("latin-1")}

    @app.post("/ngsi-ld/v1/things")
    async def create(request: Request) -> Response:
        return Response(status_code=201, headers={"Location": f"{request.base_url}ngsi-ld/v1/things/urn:x:1"})

    @app.post("/token")
    async def token(request: Request) -> Response:
        return JSONResponse(dict(request.headers))

    @app.get("/authorize")
    async def authorize(request: Request) -> Response:
        return Response(status_code=302, headers={"Location": f"{request.base_url}login?next=%2Fauthorize"})

    @app.get("/ngsi-ld/v1/big")
    async def big() -> StreamingResponse:
        async def chunks() -> Any:
            for _ in range(BIG // 65536):
                yield b"x" * 65536
        return StreamingResponse(chunks(), media_type="application/octet-stream")

    @app.post("/ngsi-ld/v1/upload")
    async def upload(request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"received": size}

    @app.get("/ngsi-ld/v1/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(3)
        return {"late": "yes"}

    @app.get("/.well-known/mim")
    async def described() -> dict[str, Any]:
        return {"name": "stand-in", "version": "1.0.0",
                "consumes": [{"ppi": "ngsi-ld-entity", "version": "1.0.0"}],
                "produces": [{"ppi": "problem-details", "version": "1.0.0"}]}

    return app


class Collected(list[Any]):
    """An audit log that keeps records in memory."""

    def last(self, route: str | None = None) -> Any:
        """The newest record (of ``route``): a streamed answer's record follows its last byte."""
        deadline = time.monotonic() + 5
        while True:
            found = [r for r in self if route is None or r.route == route]
            if found or time.monotonic() > deadline:
                return found[-1]
            time.sleep(0.01)


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("platform")
    with ExitStack() as stack:
        keys = stack.enter_context(served(keys_app(), free_port()))
        context = stack.enter_context(served(
            mims.context.service.create_app(data_dir=folder / "context", port=free_port(), jsonld_remote=False),
            free_port()))
        stand_in = stack.enter_context(served(stand_in_app(), free_port()))
        trust = folder / "trust.json"
        trust.write_text(json.dumps({"issuers": [{
            "issuer": FOREIGN, "jwks_uri": f"{keys}/foreign/jwks", "name": "Other city",
            "scope_map": {"inwoner": ["context:read"]}, "allowed_audiences": [AUDIENCE]}]}))
        yield {"keys": keys, "context": context, "stand_in": stand_in, "trust": trust, "folder": folder}


@contextmanager
def gateway(platform: dict[str, Any], **overrides: Any) -> Iterator[tuple[httpx.Client, FastAPI]]:
    settings = GatewaySettings(**{
        "data_dir": platform["folder"] / uuid.uuid4().hex, "issuers": [OWN], "audience": AUDIENCE,
        "jwks_url": f"{platform['keys']}/own/jwks", "trust_list_file": platform["trust"],
        "identity_url": platform["stand_in"], "context_url": platform["context"], **overrides})
    app = create_app(settings)
    with served(app, free_port()) as url, httpx.Client(base_url=url, timeout=10) as client:
        app.state.audit = Collected()
        yield client, app


@pytest.fixture(scope="module")
def front(platform: dict[str, Any]) -> Iterator[tuple[httpx.Client, FastAPI]]:
    with gateway(platform) as served_gateway:
        yield served_gateway


@pytest.fixture(scope="module")
def stand_in_front(platform: dict[str, Any]) -> Iterator[tuple[httpx.Client, FastAPI]]:
    with gateway(platform, context_url=platform["stand_in"], upstream_timeout=0.5,
                 max_body_bytes=8 * 1024 * 1024) as served_gateway:
        yield served_gateway


ENTITY = {"id": "urn:ngsi-ld:Building:g1", "type": "Building",
          "name": {"type": "Property", "value": "Stadhuis"}}


def test_entities_are_created_and_read_through_the_gateway(front: tuple[httpx.Client, FastAPI]) -> None:
    client, app = front
    created = client.post("/ngsi-ld/v1/entities", json=ENTITY, headers=bearer())
    assert created.status_code == 201, created.text
    assert created.headers["location"].endswith("/ngsi-ld/v1/entities/urn:ngsi-ld:Building:g1")
    found = client.get("/ngsi-ld/v1/entities", params={"type": "Building", "count": "true"}, headers=bearer())
    assert found.status_code == 200
    assert [e["id"] for e in found.json()] == ["urn:ngsi-ld:Building:g1"]
    assert found.headers["ngsild-results-count"] == "1"
    app.state.audit.clear()
    client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer())
    allowed = app.state.audit.last("ngsi-ld-read")
    assert allowed.decision == "allow" and allowed.client_id == "dashboard" and allowed.subject == "alice"
    assert allowed.entity_type == "Building" and allowed.status == 200 and allowed.bytes_out > 0


def test_upstream_headers_are_kept_and_the_identity_is_forwarded_not_the_token(
        stand_in_front: tuple[httpx.Client, FastAPI]) -> None:
    client, _ = stand_in_front
    response = client.get("/ngsi-ld/v1/echo", headers={
        **bearer(), "X-OUP-Client-Id": "spoofed", "X-OUP-Scope": "admin", "Connection": "x-private", "X-Private": "hop", "NGSILD-Tenant": "city"})
    assert response.status_code == 200
    seen = response.json()
    assert "authorization" not in seen and "x-private" not in seen
    assert seen["x-oup-client-id"] == "dashboard" and seen["x-oup-subject"] == "alice" and seen["x-oup-issuer"] == OWN
    scopes = seen["x-oup-scope"].split()
    assert scopes == sorted(scopes) and "context:read" in scopes and "admin" not in scopes
    assert seen["ngsild-tenant"] == "city" and seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["forwarded"].startswith('for="127.0.0.1"') and seen["x-request-id"] == response.headers["x-request-id"]
    assert response.headers["ngsild-results-count"] == "7" and response.headers["ngsild-tenant"] == "city"
    assert "json-ld#context" in response.headers["link"]


def test_paths_and_queries_reach_the_upstream_encoded_as_the_client_sent_them(
        stand_in_front: tuple[httpx.Client, FastAPI]) -> None:
    client, _ = stand_in_front
    sent = "/ngsi-ld/v1/raw/urn:x:a%2Fb%C3%A9%20c%0F"
    response = client.get(httpx.URL(sent, query=b"q=name%3D%3D%22x%22&type=T"), headers=bearer())
    assert response.status_code == 200, response.text
    assert response.json() == {"path": sent, "query": "q=name%3D%3D%22x%22&type=T"}


def test_header_values_pass_as_the_same_octets_and_the_identity_in_utf8(
        stand_in_front: tuple[httpx.Client, FastAPI]) -> None:
    client, _ = stand_in_front
    response = client.get("/ngsi-ld/v1/echo", headers={**bearer(sub="zoë"), "X-Note": "café".encode()})
    assert response.status_code == 200, response.text
    seen = response.json()  # the stand-in reads header octets as Latin-1
    assert seen["x-note"].encode("latin-1") == "café".encode()
    assert seen["x-oup-subject"].encode("latin-1").decode("utf-8") == "zoë"
    refused = client.get("/ngsi-ld/v1/echo", headers={**bearer(), "X-Note": "caf\xe9".encode("latin-1")})
    assert refused.status_code == 400 and "x-note" in refused.json()["detail"]


def test_an_upstream_cookie_goes_to_its_client_only(stand_in_front: tuple[httpx.Client, FastAPI]) -> None:
    client, _ = stand_in_front
    first = client.get("/ngsi-ld/v1/cookie", headers=bearer())
    assert first.headers["set-cookie"].startswith("session=secret")
    client.cookies.clear()
    second = client.get("/ngsi-ld/v1/echo", headers=bearer())
    assert "cookie" not in second.json()


def test_an_entity_id_holding_a_slash_is_reached_through_the_gateway(front: tuple[httpx.Client, FastAPI]) -> None:
    client, _ = front
    entity = {"id": "urn:ngsi-ld:Building:wing/b", "type": "Building"}
    created = client.post("/ngsi-ld/v1/entities", json=entity, headers=bearer())
    assert created.status_code == 201
    assert created.headers["location"] == f"{client.base_url}/ngsi-ld/v1/entities/urn:ngsi-ld:Building:wing%2Fb"
    found = client.get(created.headers["location"], headers=bearer())
    assert found.status_code == 200, found.text
    assert found.json()["id"] == "urn:ngsi-ld:Building:wing/b"


def test_public_identity_routes_pass_client_authentication_on(
        stand_in_front: tuple[httpx.Client, FastAPI]) -> None:
    """The identity MIM authenticates clients itself (HTTP Basic at /token): the header must reach it."""
    client, _ = stand_in_front
    response = client.post("/identity/token", data={"grant_type": "client_credentials"}, auth=("portal", "s3cret"))
    assert response.status_code == 200
    assert response.json()["authorization"] == "Basic cG9ydGFsOnMzY3JldA=="
    assert response.headers.get_list("date") and len(response.headers.get_list("date")) == 1
    assert len(response.headers.get_list("server")) == 1


def test_location_is_rewritten_to_the_gateway(stand_in_front: tuple[httpx.Client, FastAPI]) -> None:
    client, _ = stand_in_front
    created = client.post("/ngsi-ld/v1/things", headers=bearer())
    assert created.headers["location"] == f"{client.base_url}/ngsi-ld/v1/things/urn:x:1"
    redirected = client.get("/identity/authorize")
    assert redirected.status_code == 302
    assert redirected.headers["location"] == f"{client.base_url}/identity/login?next=%2Fauthorize"


def test_large_bodies_stream_both_ways(stand_in_front: tuple[httpx.Client, FastAPI]) -> None:
    client, _ = stand_in_front
    with client.stream("GET", "/ngsi-ld/v1/big", headers=bearer()) as response:
        assert response.status_code == 200
        assert sum(len(chunk) for chunk in response.iter_raw()) == BIG

    def chunks() -> Iterator[bytes]:
        for _ in range(64):
            yield b"y" * 65536
    uploaded = client.post("/ngsi-ld/v1/upload", content=chunks(), headers=bearer())
    assert uploaded.json() == {"received": 64 * 65536}


def test_a_body_over_the_limit_is_413(front: tuple[httpx.Client, FastAPI]) -> None:
    client, _ = front
    response = client.post("/ngsi-ld/v1/entityOperations/upsert", content=b"[" + b" " * (2 * 1024 * 1024) + b"]",
                           headers={**bearer(), "Content-Type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize(("headers", "status", "error"), [
    (dict, 401, None),
    (lambda: {"Authorization": "Bearer not a token"}, 400, "invalid_request"),
    (lambda: {"Authorization": "Bearer abc.def.ghi"}, 401, "invalid_token"),
    (lambda: bearer(aud="https://elsewhere.example"), 401, "invalid_token"),
    (lambda: bearer(iss="https://id.stranger.example"), 401, "invalid_token"),
    (lambda: bearer(scope="context:write"), 403, "insufficient_scope"),
])
def test_the_pep_refuses(front: tuple[httpx.Client, FastAPI], headers: Callable[[], dict[str, str]], status: int,
                         error: str | None) -> None:
    """``headers`` are made when the test runs, so the tokens in them are fresh."""
    client, app = front
    headers = headers()
    response = client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="oup"')
    assert (f'error="{error}"' in challenge) if error else ("error=" not in challenge)
    denied = app.state.audit[-1]  # refusals are recorded before the answer leaves
    assert denied.decision == "deny" and denied.status == status and denied.reason == (error or "missing_token")


def test_a_foreign_token_is_accepted_with_its_mapped_scopes(front: tuple[httpx.Client, FastAPI]) -> None:
    client, app = front
    foreign = mint(FOREIGN_KEY, iss=FOREIGN, scope="inwoner", sub="citizen-7", client_id="mijn-stad")
    app.state.audit.clear()
    assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer(foreign)).status_code == 200
    assert app.state.audit.last().issuer == FOREIGN
    refused = client.post("/ngsi-ld/v1/entities", json=ENTITY, headers=bearer(foreign))
    assert refused.status_code == 403  # inwoner maps to context:read only


def test_a_grant_admits_what_the_token_lacks_and_is_cached(front: tuple[httpx.Client, FastAPI]) -> None:
    client, app = front
    asked: list[tuple[str, str]] = []

    class Contracts:
        async def grants(self, client_id: str, subject: str) -> list[Grant]:
            asked.append((client_id, subject))
            return [Grant("buildings", frozenset({"context:read"}), frozenset({"Building"}))]

    gateway = app.state.gateway
    previous = gateway.grants
    gateway.grants = CachedGrants(Contracts(), ttl=60)
    try:
        token = bearer(scope="profile")
        app.state.audit.clear()
        for _ in range(3):
            assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=token).status_code == 200
        assert app.state.audit.last().dataset == "buildings"
        assert client.get("/ngsi-ld/v1/entities", params={"type": "Road"}, headers=token).status_code == 403
        assert asked == [("dashboard", "alice")]
    finally:
        gateway.grants = previous


def test_a_body_breaking_the_ppi_is_400_with_every_problem(front: tuple[httpx.Client, FastAPI]) -> None:
    client, app = front
    response = client.post("/ngsi-ld/v1/entities", headers=bearer(),
                           json={"id": "not a urn", "type": "Building", "name": {"type": "Nonsense"}})
    assert response.status_code == 400
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert {"/id", "/name/type"} <= pointers
    assert app.state.audit[-1].reason == "ppi_validation"


def test_an_unsupported_ppi_profile_is_406_naming_the_supported_one(front: tuple[httpx.Client, FastAPI]) -> None:
    client, _ = front
    response = client.post("/ngsi-ld/v1/entities", content=json.dumps(ENTITY), headers={
        **bearer(), "Content-Type": 'application/json; profile="https://w3id.org/oup/ppi/ngsi-ld-entity/9.0.0/schema.json"'})
    assert response.status_code == 406
    assert response.json()["supported"] == ["ngsi-ld-entity@1.0.0"]
    accepted = client.post("/ngsi-ld/v1/entities", content=json.dumps({**ENTITY, "id": "urn:ngsi-ld:Building:g2"}),
                           headers={**bearer(), "Content-Type": 'application/json; profile="ngsi-ld-entity@1.0.0"'})
    assert accepted.status_code == 201, accepted.text


def test_an_accept_profile_is_negotiated_against_what_the_upstream_produces(
        front: tuple[httpx.Client, FastAPI]) -> None:
    client, _ = front
    url = "/ngsi-ld/v1/entities/urn:ngsi-ld:Building:g1"
    wanted = {**bearer(), "Accept": 'application/ld+json; profile="ngsi-ld-entity@2.0.0"'}
    refused = client.get(url, headers=wanted)
    assert refused.status_code == 406 and "ngsi-ld-entity@1.0.0" in refused.json()["supported"]
    wanted["Accept"] = 'application/ld+json; profile="ngsi-ld-entity@1.0.0"'
    assert client.get(url, headers=wanted).status_code == 200


def test_over_the_rate_limit_is_429_with_retry_after(platform: dict[str, Any]) -> None:
    with gateway(platform, rate_limit="2/minute") as (client, app):
        token = bearer()
        statuses = [client.get("/ngsi-ld/v1/types", headers=token).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        limited = client.get("/ngsi-ld/v1/types", headers=token)
        assert int(limited.headers["retry-after"]) >= 1
        assert app.state.audit[-1].reason == "rate_limited"
        other_client = bearer(client_id="another")
        assert client.get("/ngsi-ld/v1/types", headers=other_client).status_code == 200
        # Another person using the same app (the portal: every person's token has its client id).
        other_person = bearer(sub="bob")
        assert client.get("/ngsi-ld/v1/types", headers=other_person).status_code == 200


def test_a_down_upstream_is_502_at_once(platform: dict[str, Any]) -> None:
    with gateway(platform, context_url=f"http://127.0.0.1:{free_port()}") as (client, app):
        started = time.monotonic()
        response = client.get("/ngsi-ld/v1/types", headers=bearer())
        assert response.status_code == 502 and time.monotonic() - started < 2
        assert "context" in response.json()["detail"]
        metrics = client.get("/metrics").text
        assert 'gateway_upstream_errors_total{kind="unreachable",upstream="context"} 1.0' in metrics


def test_a_slow_upstream_is_504(stand_in_front: tuple[httpx.Client, FastAPI]) -> None:
    client, _ = stand_in_front
    response = client.get("/ngsi-ld/v1/slow", headers=bearer())
    assert response.status_code == 504
    assert response.headers["content-type"].startswith("application/problem+json")


def test_an_unconfigured_upstream_is_404(front: tuple[httpx.Client, FastAPI]) -> None:
    client, _ = front
    response = client.get("/marketplace/datasets", headers=bearer())
    assert response.status_code == 404 and "marketplace" in response.json()["detail"]


def test_ppi_lists_what_the_mims_declare(stand_in_front: tuple[httpx.Client, FastAPI],
                                         front: tuple[httpx.Client, FastAPI]) -> None:
    listed = front[0].get("/ppi").json()
    entity = next(p for p in listed["ppis"] if p["ppi"] == "ngsi-ld-entity")
    assert entity["versions"][0]["version"] == "1.0.0"
    assert "context" in entity["versions"][0]["consumedBy"] and "identity" in entity["versions"][0]["consumedBy"]
    assert listed["mims"]["context"]["available"] is True


def test_openapi_aggregates_the_routed_mims(front: tuple[httpx.Client, FastAPI]) -> None:
    document = front[0].get("/openapi.json").json()
    assert "/ngsi-ld/v1/entities" in document["paths"]
    assert "/ppi" in document["paths"] and "/metrics" in document["paths"]
    assert "/health" in document["paths"]  # the gateway's own, not the context MIM's


def test_metrics_count_requests_per_route(front: tuple[httpx.Client, FastAPI]) -> None:
    client, _ = front
    client.get("/ngsi-ld/v1/types", headers=bearer())
    text = client.get("/metrics").text
    assert 'gateway_requests_total{method="GET",route="ngsi-ld-read",status="200",upstream="context"}' in text
    assert 'gateway_request_duration_seconds_bucket{le="0.1",route="ngsi-ld-read",upstream="context"}' in text


def test_a_rate_limit_setting_is_checked_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'lots' is not a rate"):
        GatewaySettings(data_dir=tmp_path, rate_limit="lots")
    assert GatewaySettings(data_dir=tmp_path, rate_limit="off").rate_limit is None
    assert GatewaySettings(data_dir=tmp_path, rate_limit="10 per second").rate_limit == "10 per second"


def test_a_bad_route_table_names_the_entry(tmp_path: Path) -> None:
    table = tmp_path / "routes.json"
    table.write_text(json.dumps({"routes": [
        {"name": "ok", "prefix": "/a/", "upstream": "context"},
        {"name": "broken", "prefix": "/b/", "upstream": "context", "ppi": "no-such-ppi@1.0.0"}]}))
    with pytest.raises(InvalidRouteTable, match=r"entry 1 \('broken'\).*no-such-ppi"):
        load_routes(table)


def test_entity_types_may_need_scopes_of_their_own(platform: dict[str, Any], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUP_AUTH", "off")  # meant for the MIMs behind the gateway, never for it
    table = tmp_path / "routes.json"
    table.write_text(json.dumps({"routes": [
        {"name": "ngsi-ld", "prefix": "/ngsi-ld/v1/", "upstream": "context", "scopes": ["context:read"],
         "types": {"Permit": ["permits:read"]}}]}))
    with gateway(platform, routes_file=table) as (client, app):
        assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"}).status_code == 401
        assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer()).status_code == 200
        refused = client.get("/ngsi-ld/v1/entities", params={"type": "Building,Permit"}, headers=bearer())
        assert refused.status_code == 403 and "permits:read" in refused.json()["detail"]
        assert app.state.audit[-1].entity_type == "Building,Permit"
        for expression in ("Building|Permit", "(Building;Permit)", "Building|(Permit)"):  # NGSI-LD 1.8 4.17
            either = client.get("/ngsi-ld/v1/entities", params={"type": expression}, headers=bearer())
            assert either.status_code == 403 and "permits:read" in either.json()["detail"], expression
        allowed = bearer(scope="context:read permits:read")
        assert client.get("/ngsi-ld/v1/entities", params={"type": "Permit"}, headers=allowed).status_code == 200


def test_a_route_may_take_any_one_of_its_scopes(platform: dict[str, Any], tmp_path: Path) -> None:
    table = tmp_path / "routes.json"
    table.write_text(json.dumps({"routes": [
        {"name": "either", "methods": ["GET"], "prefix": "/ngsi-ld/v1/", "upstream": "context",
         "any_scopes": ["context:read", "context:audit"]}]}))
    with gateway(platform, routes_file=table) as (client, app):
        for scope in ("context:read", "context:audit"):
            assert client.get("/ngsi-ld/v1/types", headers=bearer(scope=scope)).status_code == 200, scope
        refused = client.get("/ngsi-ld/v1/types", headers=bearer(scope="context:write"))
        assert refused.status_code == 403 and "context:read context:audit" in refused.json()["detail"]
        assert 'error="insufficient_scope"' in refused.headers["www-authenticate"]
        assert app.state.audit[-1].status == 403
    public = tmp_path / "public.json"
    public.write_text(json.dumps({"routes": [{"name": "odd", "prefix": "/a/", "upstream": "context", "public": True,
                                              "any_scopes": ["context:read"]}]}))
    with pytest.raises(InvalidRouteTable, match="public entry cannot require scopes"):
        load_routes(public)
