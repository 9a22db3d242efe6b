"""Data-access grants at the gateway: grants asked of the marketplace (access-grant PPI), what they
admit, the query narrowing of q and geo grants, counted uses, and the marketplace routes.

Over real HTTP on loopback: a stand-in marketplace serving ``/grants``, ``/grants/uses`` and
``/usage-records`` as the contract between them says, a stand-in context broker that shows the
query it receives, and (for the narrowing's meaning) the context MIM itself.
"""

from __future__ import annotations

import copy
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from serving import closed_port, free_port, served

import mims.context.service
import ppi_schemas
from gateway.grants import Grant, GrantsUnavailable, MarketplaceGrants
from gateway.routes import load_routes
from gateway.service import create_app
from gateway.settings import GatewaySettings
from mims.kit.auth import TokenVerifier

ISSUER = "http://127.0.0.1:9/city"
KEY = ECKey.generate_key("P-256", {"kid": "grants-1"})
DATASET = "https://data.city.example/marketplace/datasets/buildings"
POLYGON = [[[4.46, 51.90], [4.50, 51.90], [4.50, 51.93], [4.46, 51.93], [4.46, 51.90]]]


def bearer(scope: str = "openid", client_id: str = "bouwapp", sub: str = "dev-1") -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "gateway", "sub": sub, "client_id": client_id, "iat": now,
              "exp": now + 300, "jti": uuid.uuid4().hex, "scope": scope}
    return {"Authorization": "Bearer " + jwt.encode({"alg": "ES256", "kid": KEY.kid, "typ": "at+jwt"}, claims, KEY)}


def grant_document(types: tuple[str, ...] = ("Building",), *, client_id: str = "bouwapp", q: str | None = None,
                   geo: dict[str, Any] | None = None, remaining: int | None = None, subject: str | None = None,
                   not_before: str = "2020-01-01T00:00:00Z", not_after: str | None = None,
                   status: str = "active", dataset: str = DATASET) -> dict[str, Any]:
    """An access-grant@1.0.0 document."""
    key = uuid.uuid4()
    query: dict[str, Any] = {"entity_types": list(types)}
    if q:
        query["q"] = q
    if geo:
        query["geo"] = geo
    document = {"grant_id": f"urn:uuid:{key}", "agreement_id": f"https://data.city.example/agreements/{key.hex}",
                "client_id": client_id, "dataset": dataset, "query": query, "scopes": ["context:read"],
                "not_before": not_before, "not_after": not_after, "remaining": remaining, "status": status}
    if subject:
        document["subject"] = subject
    assert ppi_schemas.is_valid(document, "access-grant@1.0.0"), ppi_schemas.validate(document, "access-grant@1.0.0")
    return document


class Marketplace:
    """A stand-in marketplace: grants, uses and usage records as the contract says."""

    def __init__(self) -> None:
        self.grants: list[dict[str, Any]] = []
        self.grant_queries: list[str] = []
        self.records: dict[str, dict[str, Any]] = {}
        self.posts: list[list[dict[str, Any]]] = []
        self.failures = 0          # usage-record posts still to answer 503
        self.headers: list[dict[str, str]] = []

    def reset(self, *grants: dict[str, Any]) -> None:
        self.grants = list(grants)
        self.grant_queries.clear()
        self.records.clear()
        self.posts.clear()
        self.failures = 0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/grants")
        async def grants(client_id: str) -> dict[str, Any]:
            self.grant_queries.append(client_id)
            return {"grants": [g for g in self.grants if g.get("client_id") == client_id and g["status"] == "active"]}

        @app.post("/grants/uses")
        async def uses(request: Request) -> Response:
            body = await request.json()
            found = [g for g in self.grants if g.get("grant_id") == body["grant_id"]]
            if not found:
                return JSONResponse({"title": "Not Found", "status": 404}, 404)
            grant = found[0]
            if grant["remaining"] is not None and grant["remaining"] < body["uses"]:
                return JSONResponse({"type": "about:blank", "title": "Forbidden", "status": 403,
                                     "detail": "the agreement's count of uses is exhausted", "reason": "exhausted"},
                                    403, media_type="application/problem+json")
            if grant["remaining"] is not None:
                grant["remaining"] -= body["uses"]
            return JSONResponse({"grant_id": grant["grant_id"], "remaining": grant["remaining"]})

        @app.get("/negotiations")
        async def negotiations(request: Request) -> dict[str, Any]:
            self.headers.append(dict(request.headers))
            return {"negotiations": []}

        @app.post("/usage-records")
        async def usage_records(request: Request) -> Response:
            body = await request.json()
            batch = body if isinstance(body, list) else [body]
            problems = [p for record in batch for p in ppi_schemas.validate(record, "usage-record@1.0.0")]
            if problems:
                return JSONResponse({"title": "Bad Request", "status": 400, "detail": problems[0].message}, 400)
            self.posts.append(batch)
            if self.failures:
                self.failures -= 1
                return JSONResponse({"title": "Service Unavailable", "status": 503}, 503)
            duplicates = sum(1 for record in batch if record["record_id"] in self.records)
            self.records.update({record["record_id"]: record for record in batch})
            return JSONResponse({"accepted": len(batch) - duplicates, "duplicates": duplicates}, 202)

        return app


class Context:
    """A stand-in context broker: answers entity queries with ``count`` Buildings, showing the query."""

    def __init__(self) -> None:
        self.queries: list[list[tuple[str, str]]] = []

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/ngsi-ld/v1/entities")
        async def entities(request: Request) -> Response:
            self.queries.append(list(request.query_params.multi_items()))
            count = int(request.query_params.get("limit", "3"))
            padding = request.query_params.get("pad", "")
            found = [{"id": f"urn:ngsi-ld:Building:{n}", "type": "Building",
                      "name": {"type": "Property", "value": f"b{n}{'x' * len(padding) * 100}"}} for n in range(count)]
            return JSONResponse(found, headers={"NGSILD-Results-Count": "1000"}, media_type="application/ld+json")

        @app.get("/ngsi-ld/v1/entities/{entity_id}")
        async def entity(entity_id: str) -> dict[str, Any]:
            return {"id": entity_id, "type": "Building"}

        return app


@contextmanager
def gateway(folder: Path, context_url: str, marketplace_url: str, **overrides: Any) -> Iterator[tuple[httpx.Client, FastAPI]]:
    settings = GatewaySettings(**{"data_dir": folder / uuid.uuid4().hex, "issuers": [ISSUER], "jwks_url": ISSUER + "/jwks",
                                  "context_url": context_url, "marketplace_url": marketplace_url, "rate_limit": "off",
                                  "grants_cache_ttl": 60, "usage_flush_interval": 0.1, **overrides})
    app = create_app(settings)
    app.state.token_verifier = TokenVerifier(jwks=KeySet([KEY]).as_dict(), issuers=[ISSUER], audience=None)
    with served(app, free_port()) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client, app


@contextmanager
def stand_ins(folder: Path) -> Iterator[dict[str, Any]]:
    """The stand-in marketplace and context broker, served."""
    market, context = Marketplace(), Context()
    with served(market.app(), free_port()) as market_url, served(context.app(), free_port()) as context_url:
        yield {"market": market, "context": context, "folder": folder, "market_url": market_url,
               "context_url": context_url}


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with stand_ins(tmp_path_factory.mktemp("grants")) as found, \
            gateway(found["folder"], found["context_url"], found["market_url"]) as (client, app):
        yield {**found, "client": client, "app": app}


@pytest.fixture
def front(city: dict[str, Any]) -> tuple[httpx.Client, Marketplace, Context, FastAPI]:
    """The gateway with no grant remembered and an empty marketplace."""
    city["app"].state.gateway.grants.forget("bouwapp")
    city["market"].reset()
    city["context"].queries.clear()
    city["app"].state.audit = []  # the records, kept in memory
    return city["client"], city["market"], city["context"], city["app"]


# -- the grant itself ------------------------------------------------------------------------------

def test_a_grant_carries_the_access_grant_ppi_and_covers_only_within_its_terms() -> None:
    example = next(e.payload for e in ppi_schemas.get("access-grant@1.0.0").examples_valid
                   if e.payload.get("subject"))
    grant = Grant.from_ppi(example)
    assert (grant.grant_id, grant.agreement_id, grant.client_id) == (
        example["grant_id"], example["agreement_id"], example["client_id"])
    assert grant.entity_types == {"OffStreetParking"} and grant.q == "availableSpotNumber>0"
    assert grant.geo is not None and grant.geo.georel == "within" and grant.geo.geoproperty == "location"
    assert grant.remaining == 998 and grant.narrows and grant.counted
    inside = datetime(2027, 6, 1, tzinfo=UTC)
    user = example["subject"]
    assert grant.covers(["context:read"], ["OffStreetParking"], subject=user, at=inside)
    assert not grant.covers(["context:read"], ["OffStreetParking"], subject="someone-else", at=inside)
    assert not grant.covers(["context:read"], ["OffStreetParking"], subject=user, at=grant.not_before - timedelta(seconds=1))
    assert not grant.covers(["context:read"], ["OffStreetParking"], subject=user, at=grant.not_after)
    assert not grant.covers(["context:write"], ["OffStreetParking"], subject=user, at=inside)
    assert not grant.covers(["context:read"], ["Building"], subject=user, at=inside)
    exhausted = Grant.from_ppi({**example, "remaining": 0})
    withdrawn = Grant.from_ppi({**example, "status": "withdrawn"})
    assert not exhausted.covers(["context:read"], ["OffStreetParking"], subject=user, at=inside)
    assert not withdrawn.covers(["context:read"], ["OffStreetParking"], subject=user, at=inside)


async def test_the_marketplace_source_skips_invalid_grants_and_says_when_it_cannot_be_asked(
        city: dict[str, Any], caplog: pytest.LogCaptureFixture) -> None:
    market: Marketplace = city["market"]
    good = grant_document()
    broken = copy.deepcopy(good) | {"grant_id": "urn:uuid:broken", "remaining": -1}
    foreign = grant_document(client_id="someone-else")
    market.reset(good, broken, {**foreign, "client_id": "bouwapp", "scopes": []})
    async with httpx.AsyncClient() as client:
        with caplog.at_level(logging.WARNING, logger="gateway.grants"):
            found = await MarketplaceGrants(city["market_url"], client).grants("bouwapp", "dev-1")
        assert [g.grant_id for g in found] == [good["grant_id"]]
        assert "urn:uuid:broken" not in caplog.text and "/remaining" in caplog.text and "/scopes" in caplog.text
        with closed_port() as port:
            down = MarketplaceGrants(f"http://127.0.0.1:{port}", client)
            with pytest.raises(GrantsUnavailable, match="could not be reached"):
                await down.grants("bouwapp", "dev-1")
            with pytest.raises(GrantsUnavailable, match="could not be reached to count this use"):
                await down.use(found[0])


# -- admission -------------------------------------------------------------------------------------

def test_a_grant_admits_queries_of_its_entity_types_only(front: tuple[httpx.Client, Marketplace, Context, FastAPI]) -> None:
    client, market, _context, _ = front
    market.reset(grant_document(("Building",)))
    assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer()).status_code == 200
    refused = client.get("/ngsi-ld/v1/entities", params={"type": "Permit"}, headers=bearer())
    assert refused.status_code == 403 and "context:read" in refused.json()["detail"]
    # The same client's other users share the client's grants (no subject in the grant).
    assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer(sub="dev-2")).status_code == 200
    assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer(client_id="other")).status_code == 403


def test_a_grant_for_one_user_or_out_of_its_time_admits_nobody_else(
        front: tuple[httpx.Client, Marketplace, Context, FastAPI]) -> None:
    client, market, _, _app = front
    soon = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    market.reset(grant_document(("Building",), subject="dev-1"), grant_document(("Permit",), not_before=soon),
                 grant_document(("Parcel",), not_after="2021-01-01T00:00:00Z"))
    assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer()).status_code == 200
    assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer(sub="dev-2")).status_code == 403
    assert client.get("/ngsi-ld/v1/entities", params={"type": "Permit"}, headers=bearer()).status_code == 403
    assert client.get("/ngsi-ld/v1/entities", params={"type": "Parcel"}, headers=bearer()).status_code == 403


def test_grants_are_asked_once_per_ttl_and_a_marketplace_that_cannot_be_asked_is_503(
        city: dict[str, Any], front: tuple[httpx.Client, Marketplace, Context, FastAPI]) -> None:
    client, market, _, _ = front
    market.reset(grant_document(("Building",)))
    for _ in range(3):
        assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer()).status_code == 200
    assert market.grant_queries == ["bouwapp"]
    with closed_port() as port, gateway(city["folder"], city["context_url"], f"http://127.0.0.1:{port}") as (down, _):
        refused = down.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer())
        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "marketplace could not be asked" in refused.json()["detail"]
        # A token holding the scope needs no grant, and is served.
        assert down.get("/ngsi-ld/v1/entities", params={"type": "Building"},
                        headers=bearer("context:read")).status_code == 200


# -- narrowing -------------------------------------------------------------------------------------

GEO = {"georel": "within", "geometry": "Polygon", "coordinates": POLYGON, "geoproperty": "location"}


def test_a_narrowing_grant_ands_its_q_and_fixes_its_geo_query(front: tuple[httpx.Client, Marketplace, Context, FastAPI]) -> None:
    client, market, context, _ = front
    market.reset(grant_document(("Building",), q="height>10", geo=GEO))
    answer = client.get("/ngsi-ld/v1/entities", params={"type": "Building", "q": 'name=="Stadhuis"|floors>2',
                                                        "limit": "2"}, headers=bearer())
    assert answer.status_code == 200, answer.text
    received = dict(context.queries[-1])
    assert received["q"] == '(name=="Stadhuis"|floors>2);(height>10)'
    assert (received["georel"], received["geometry"], received["geoproperty"]) == ("within", "Polygon", "location")
    assert httpx.Response(200, content=received["coordinates"]).json() == POLYGON
    assert (received["type"], received["limit"]) == ("Building", "2")
    assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer()).status_code == 200
    assert dict(context.queries[-1])["q"] == "height>10"
    assert [name for name, _ in context.queries[-1]].count("q") == 1


@pytest.mark.parametrize(("params", "pointer", "words"), [
    ({"georel": "near;maxDistance==10", "geometry": "Point", "coordinates": "[4.4,51.9]"}, "/georel", "fixes the geo-query"),
    ({"q": "a==1)|(b==2"}, "/q", "did not open"),
    ({"q": 'a=="(")|(b==")"'}, "/q", "did not open"),
    ({"q": "(a==1"}, "/q", "open"),
    ({"join": "flat"}, "/join", "its own entities"),
    ([("q", "a==1"), ("%71", "b==2")], "/q", "more than once"),
])
def test_a_narrowing_grant_refuses_queries_that_would_escape_it(
        front: tuple[httpx.Client, Marketplace, Context, FastAPI], params: Any, pointer: str, words: str) -> None:
    client, market, context, _app = front
    market.reset(grant_document(("Building",), q="height>10", geo=GEO))
    if isinstance(params, list):
        query = "&".join(f"{k}={v}" for k, v in params)
        refused = client.get(f"/ngsi-ld/v1/entities?type=Building&{query}", headers=bearer())
    else:
        refused = client.get("/ngsi-ld/v1/entities", params={"type": "Building", **params}, headers=bearer())
    assert refused.status_code == 400, refused.text
    problem = refused.json()
    assert words in problem["detail"] and problem["errors"][0]["pointer"] == pointer
    assert context.queries == []


def test_a_narrowing_grant_opens_entity_queries_only(front: tuple[httpx.Client, Marketplace, Context, FastAPI]) -> None:
    client, market, context, _ = front
    market.reset(grant_document(("Building",), q="height>10"))
    refused = client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Building:1", params={"type": "Building"}, headers=bearer())
    assert refused.status_code == 403 and "entity queries only" in refused.json()["detail"]
    assert front[3].state.audit[-1].reason == "grant_entity_queries_only" and context.queries == []
    # A grant that does not narrow opens the same path.
    market.reset(grant_document(("Building",)))
    front[3].state.gateway.grants.forget("bouwapp")
    assert client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Building:1", params={"type": "Building"},
                      headers=bearer()).status_code == 200


def test_the_context_broker_answers_only_what_the_grant_opens(city: dict[str, Any]) -> None:
    """The narrowed query means what it says at the real context MIM: q and geo both apply."""
    folder: Path = city["folder"]
    market: Marketplace = city["market"]
    broker = mims.context.service.create_app(data_dir=folder / "context", port=free_port(), jsonld_remote=False)
    with served(broker, free_port()) as context_url, gateway(folder, context_url, city["market_url"]) as (client, _):
        def parking(n: int, spots: int, where: list[float]) -> dict[str, Any]:
            return {"id": f"urn:ngsi-ld:OffStreetParking:{n}", "type": "OffStreetParking",
                    "availableSpotNumber": {"type": "Property", "value": spots},
                    "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": where}}}
        for entity in (parking(1, 5, [4.48, 51.92]), parking(2, 0, [4.48, 51.92]), parking(3, 9, [4.30, 52.08]),
                       parking(4, 7, [4.47, 51.91])):
            created = client.post("/ngsi-ld/v1/entities", json=entity, headers=bearer("context:write"))
            assert created.status_code == 201, created.text
        market.reset(grant_document(("OffStreetParking",), q="availableSpotNumber>0", geo=GEO))
        everything = client.get("/ngsi-ld/v1/entities", params={"type": "OffStreetParking"}, headers=bearer())
        assert everything.status_code == 200, everything.text
        assert sorted(e["id"][-1] for e in everything.json()) == ["1", "4"]
        fewer = client.get("/ngsi-ld/v1/entities", params={"type": "OffStreetParking", "q": "availableSpotNumber<6"},
                           headers=bearer())
        assert [e["id"][-1] for e in fewer.json()] == ["1"]
        wider = client.get("/ngsi-ld/v1/entities", params={"type": "OffStreetParking", "q": "availableSpotNumber>=0"},
                           headers=bearer())
        assert sorted(e["id"][-1] for e in wider.json()) == ["1", "4"]


# -- counted uses ----------------------------------------------------------------------------------

def test_a_counted_grant_takes_each_use_and_is_refused_once_exhausted(
        front: tuple[httpx.Client, Marketplace, Context, FastAPI]) -> None:
    client, market, context, app = front
    counted = grant_document(("Building",), remaining=2)
    market.reset(counted)
    records = app.state.audit
    for _ in range(2):
        assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer()).status_code == 200
    assert counted["remaining"] == 0 and len(context.queries) == 2
    refused = client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer())
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    problem = refused.json()
    assert problem["reason"] == "exhausted" and "exhausted" in problem["detail"] and counted["agreement_id"] in problem["detail"]
    assert len(context.queries) == 2  # not forwarded
    assert records[-1].decision == "deny" and records[-1].reason == "grant_exhausted"
    assert records[0].dataset == DATASET
    # The client's grants were dropped: the next request asks the marketplace again (remaining 0 now).
    asked = len(market.grant_queries)
    assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer()).status_code == 403
    assert len(market.grant_queries) == asked + 1


def test_a_withdrawn_grant_is_refused_at_its_next_use(front: tuple[httpx.Client, Marketplace, Context, FastAPI]) -> None:
    client, market, _, _ = front
    counted = grant_document(("Building",), remaining=5)
    market.reset(counted)
    assert client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer()).status_code == 200
    market.reset()  # terminated: the marketplace no longer knows it
    refused = client.get("/ngsi-ld/v1/entities", params={"type": "Building"}, headers=bearer())
    assert refused.status_code == 403 and refused.json()["reason"] == "withdrawn"


# -- the marketplace's routes ----------------------------------------------------------------------

def test_the_route_table_keeps_grants_and_usage_records_for_the_gateway_and_contracts_for_clients() -> None:
    table = load_routes()
    expected = {
        ("GET", "/marketplace/grants"): ("/grants", ("marketplace:grants",)),
        ("POST", "/marketplace/grants/uses"): ("/grants/uses", ("marketplace:grants",)),
        ("POST", "/marketplace/usage-records"): ("/usage-records", ("marketplace:grants",)),
        ("GET", "/marketplace/usage-records"): ("/usage-records", ("marketplace:grants",)),
        ("POST", "/marketplace/negotiations/request"): ("/negotiations/request", ()),
        ("POST", "/marketplace/negotiations/abc/events"): ("/negotiations/abc/events", ()),
        ("GET", "/marketplace/negotiations"): ("/negotiations", ()),
        ("GET", "/marketplace/negotiations/abc"): ("/negotiations/abc", ()),
        ("POST", "/marketplace/agreements/a1/termination"): ("/agreements/a1/termination", ()),
        ("GET", "/marketplace/agreements"): ("/agreements", ()),
        ("GET", "/marketplace/agreements/a1"): ("/agreements/a1", ()),
        ("GET", "/marketplace/usage"): ("/usage", ()),
    }
    for (method, path), (upstream, scopes) in expected.items():
        route = table.match(method, path)
        assert route is not None and route.upstream == "marketplace", (method, path)
        assert not route.public and route.scopes == scopes and route.upstream_path(path) == upstream, (method, path)
    assert table.match("GET", "/marketplace/catalog").public
    assert table.match("POST", "/marketplace/datasets/d1/offers").scopes == ("marketplace:publish",)


def test_marketplace_contract_routes_need_a_token_and_grants_need_their_scope(
        front: tuple[httpx.Client, Marketplace, Context, FastAPI]) -> None:
    client, market, _, _ = front
    assert client.get("/marketplace/negotiations").status_code == 401
    listed = client.get("/marketplace/negotiations", headers=bearer())
    assert listed.status_code == 200 and listed.json() == {"negotiations": []}
    assert market.headers[-1]["x-oup-client-id"] == "bouwapp" and "authorization" not in market.headers[-1]
    assert client.get("/marketplace/grants", params={"client_id": "bouwapp"}, headers=bearer()).status_code == 403
    asked = client.get("/marketplace/grants", params={"client_id": "bouwapp"}, headers=bearer("marketplace:grants"))
    assert asked.status_code == 200 and asked.json() == {"grants": []}
