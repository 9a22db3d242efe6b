"""Region endpoints: fan-out to this city's context MIM and peer gateways, merge, paging, partial
failure, circuit breakers and how identity crosses to peers (over HTTP, real servers)."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
import pytest
from fastapi import FastAPI, Request, Response
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from gateway.service import create_app as create_gateway
from gateway.settings import GatewaySettings
from mims.context.service import create_app as create_context
from mims.kit.auth import TokenVerifier
from tests.serving import closed_port, free_port, served

ISSUER = "http://127.0.0.1:9/rotterdam"
KEY = ECKey.generate_key("P-256", {"kid": "region-1"})
JWKS = KeySet([KEY]).as_dict()
PARKING = "OffStreetParking"


def mint(scope: str = "context:read", sub: str = "alice") -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "gateway", "sub": sub, "client_id": "dashboard", "iat": now,
              "exp": now + 300, "jti": uuid.uuid4().hex, "scope": scope}
    return jwt.encode({"alg": "ES256", "kid": KEY.kid, "typ": "at+jwt"}, claims, KEY, algorithms=["ES256"])


def entity(entity_id: str, name: str, type_: str = PARKING) -> dict[str, Any]:
    return {"id": entity_id, "type": type_, "name": {"type": "Property", "value": name}}


class FakeCity:
    """A peer city's gateway (NGSI-LD reads) and identity token endpoint, with knobs for failure."""

    def __init__(self, name: str, entities: list[dict[str, Any]]) -> None:
        self.name = name
        self.entities = entities
        self.delay = 0.0
        self.fail_status: int | None = None
        self.token_status = 200
        self.data_requests: list[httpx.Headers | dict[str, str]] = []
        self.token_requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.app = self._app()

    def _app(self) -> FastAPI:
        app = FastAPI()
        city = self

        async def seen(request: Request) -> Response | None:
            with city.lock:
                city.data_requests.append(dict(request.headers))
            if city.delay:
                await asyncio.sleep(city.delay)
            if city.fail_status is not None:
                return Response(b"{}", status_code=city.fail_status, media_type="application/json")
            return None

        @app.get("/ngsi-ld/v1/entities")
        async def entities(request: Request) -> Response:
            failed = await seen(request)
            if failed is not None:
                return failed
            params = request.query_params
            selected = [e for e in city.entities if params.get("type") in (None, e["type"])]
            offset, limit = int(params.get("offset", 0)), int(params.get("limit", 20))
            headers = {"NGSILD-Results-Count": str(len(selected))} if params.get("count") == "true" else {}
            headers["Set-Cookie"] = f"{city.name}-session=for-one-caller; Path=/"
            return Response(orjson.dumps(selected[offset:offset + limit]), media_type="application/json",
                            headers=headers)

        @app.get("/ngsi-ld/v1/types")
        async def types(request: Request) -> Response:
            failed = await seen(request)
            if failed is not None:
                return failed
            names = sorted({e["type"] for e in city.entities})
            return Response(orjson.dumps({"id": "urn:x", "type": "EntityTypeList", "typeList": names}),
                            media_type="application/json")

        @app.get("/ngsi-ld/v1/entities/{entity_id}")
        async def one(entity_id: str, request: Request) -> Response:
            failed = await seen(request)
            if failed is not None:
                return failed
            for candidate in city.entities:
                if candidate["id"] == entity_id:
                    return Response(orjson.dumps(candidate), media_type="application/json")
            return Response(b'{"type": "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"}', status_code=404,
                            media_type="application/json")

        @app.post("/token", response_model=None)
        async def token(request: Request) -> dict[str, Any] | Response:
            form = dict(parse_qsl((await request.body()).decode()))
            client = base64.b64decode(request.headers["authorization"].split()[1]).decode()
            with city.lock:
                city.token_requests.append({"client": client, **form})
            if city.token_status != 200:
                return Response(b'{"error": "invalid_grant"}', status_code=city.token_status,
                                media_type="application/json")
            return {"access_token": f"{city.name}-token-{len(city.token_requests)}", "token_type": "Bearer",
                    "expires_in": 300}

        return app


class Region:
    def __init__(self, url: str, app: FastAPI, cities: dict[str, FakeCity], clock: list[float]) -> None:
        self.url, self.app, self.cities, self.clock = url, app, cities, clock

    def get(self, path: str, token: str | None = None, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or mint()}"}
        return httpx.get(self.url + path, params=params, headers=headers, timeout=10)


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    """Rotterdam (real context MIM behind this gateway) with peers den-haag (token exchange),
    zuid-holland (service token), delft (slow or failing on demand) and leiden (no server)."""
    folder: Path = tmp_path_factory.mktemp("region")
    cities = {
        "den-haag": FakeCity("den-haag", [entity("urn:ngsi-ld:OffStreetParking:shared", "Den Haag Centrum"),
                                          entity("urn:ngsi-ld:OffStreetParking:dh-1", "Malieveld")]),
        "zuid-holland": FakeCity("zuid-holland", [entity("urn:ngsi-ld:Road:n14", "N14", "Road")]),
        "delft": FakeCity("delft", [entity("urn:ngsi-ld:OffStreetParking:delft-1", "Delft Station")]),
    }
    clock = [1000.0]
    with ExitStack() as stack:
        context_url = stack.enter_context(served(create_context(data_dir=folder / "context"), free_port()))
        urls = {name: stack.enter_context(served(city.app, free_port())) for name, city in cities.items()}
        # Timeouts leave room for pauses of this long-running test process (a garbage collection
        # stops every server thread in it): leiden is refused at once, delft is slow only on demand.
        peers = [
            {"name": "den-haag", "base_url": urls["den-haag"], "issuer": urls["den-haag"], "timeout": 2,
             "auth": {"method": "token-exchange", "token_endpoint": urls["den-haag"] + "/token",
                      "client_id": "gateway-rotterdam", "audience": urls["den-haag"]}},
            {"name": "zuid-holland", "base_url": urls["zuid-holland"], "issuer": urls["zuid-holland"],
             "auth": {"method": "client-credentials", "token_endpoint": urls["zuid-holland"] + "/token",
                      "client_id": "gateway-rotterdam", "scope": "context:read"}},
            {"name": "delft", "base_url": urls["delft"], "issuer": urls["delft"], "timeout": 1.0},
            {"name": "leiden", "base_url": f"http://127.0.0.1:{stack.enter_context(closed_port())}", "issuer": "http://127.0.0.1:9/leiden",
             "timeout": 5},
        ]
        (folder / "peers.json").write_bytes(orjson.dumps(peers))
        settings = GatewaySettings(
            city="rotterdam", data_dir=folder / "gateway", context_url=context_url, issuers=[ISSUER],
            jwks_url=ISSUER + "/jwks", peers_file=folder / "peers.json", peer_failure_threshold=2, peer_cooldown=30,
            peer_client_secrets={"den-haag": "dh-secret", "zuid-holland": "zh-secret"}, rate_limit=None,
        )
        app = create_gateway(settings)
        app.state.token_verifier = TokenVerifier(jwks=JWKS, issuers=[ISSUER], audience=None)
        app.state.clock = lambda: clock[0]
        for item in [entity("urn:ngsi-ld:OffStreetParking:shared", "Rotterdam Centraal"),
                     entity("urn:ngsi-ld:OffStreetParking:rdm-2", "Markthal")]:
            created = httpx.post(context_url + "/ngsi-ld/v1/entities", json=item)
            assert created.status_code == 201, created.text
        url = stack.enter_context(served(app, free_port()))
        yield Region(url, app, cities, clock)


def failed(response: httpx.Response) -> dict[str, str]:
    header = response.headers.get("OUP-Region-Failed", "")
    return dict(item.strip().replace('"', "").split(";reason=") for item in header.split(",") if item.strip())


def reset_delft(region: Region) -> None:
    region.cities["delft"].delay, region.cities["delft"].fail_status = 0.0, None
    region.app.state.region.circuits["delft"].succeeded()
    region.app.state.region.circuits["leiden"].succeeded()


def test_entities_of_every_city_are_merged_and_tagged_with_their_city(region: Region) -> None:
    reset_delft(region)
    answer = region.get("/region/ngsi-ld/v1/entities", type=PARKING, limit=50)
    assert answer.status_code == 200, answer.text
    pairs = [(e["city"]["value"], e["id"]) for e in answer.json()]
    assert pairs == [
        ("delft", "urn:ngsi-ld:OffStreetParking:delft-1"),
        ("den-haag", "urn:ngsi-ld:OffStreetParking:shared"),
        ("den-haag", "urn:ngsi-ld:OffStreetParking:dh-1"),
        ("rotterdam", "urn:ngsi-ld:OffStreetParking:shared"),
        ("rotterdam", "urn:ngsi-ld:OffStreetParking:rdm-2"),
    ]
    shared = [e for e in answer.json() if e["id"].endswith(":shared")]
    assert {e["name"]["value"] for e in shared} == {"Den Haag Centrum", "Rotterdam Centraal"}
    assert all(e["city"]["type"] == "Property" for e in answer.json())
    assert answer.headers["OUP-Region-Answered"] == "delft, den-haag, rotterdam, zuid-holland"
    assert failed(answer) == {"leiden": "unreachable"}


def test_key_values_carry_the_city_as_a_plain_value(region: Region) -> None:
    answer = region.get("/region/ngsi-ld/v1/entities", type="Road", options="keyValues")
    assert [(e["id"], e["city"]) for e in answer.json()] == [("urn:ngsi-ld:Road:n14", "zuid-holland")]


def test_limit_and_offset_page_across_cities_and_counts_are_summed(region: Region) -> None:
    reset_delft(region)
    pages = [region.get("/region/ngsi-ld/v1/entities", type=PARKING, limit=2, offset=offset, count="true")
             for offset in (0, 2, 4)]
    assert [p.headers["NGSILD-Results-Count"] for p in pages] == ["5", "5", "5"]
    ids = [(e["city"]["value"], e["id"].rsplit(":", 1)[1]) for page in pages for e in page.json()]
    assert ids == [("delft", "delft-1"), ("den-haag", "shared"), ("den-haag", "dh-1"), ("rotterdam", "shared"),
                   ("rotterdam", "rdm-2")]
    only_count = region.get("/region/ngsi-ld/v1/entities", type=PARKING, limit=0, count="true")
    assert only_count.json() == [] and only_count.headers["NGSILD-Results-Count"] == "5"


def test_paging_beyond_the_region_window_is_refused(region: Region) -> None:
    answer = region.get("/region/ngsi-ld/v1/entities", limit=600, offset=500)
    assert answer.status_code == 400
    assert "at most 1000" in answer.json()["detail"]


def test_a_slow_peer_is_reported_as_timed_out_while_the_others_answer(region: Region) -> None:
    reset_delft(region)
    region.cities["delft"].delay = 3.0
    try:
        answer = region.get("/region/ngsi-ld/v1/entities", type=PARKING)
    finally:
        region.cities["delft"].delay = 0.0
    assert answer.status_code == 200
    assert failed(answer) == {"delft": "timeout", "leiden": "unreachable"}
    assert {e["city"]["value"] for e in answer.json()} == {"den-haag", "rotterdam"}


def test_the_circuit_opens_after_repeated_failures_and_half_opens_after_the_cooldown(region: Region) -> None:
    reset_delft(region)
    delft = region.cities["delft"]
    delft.fail_status = 503
    for _ in range(2):
        assert failed(region.get("/region/ngsi-ld/v1/entities"))["delft"] == "status-503"
    asked = len(delft.data_requests)
    skipped = region.get("/region/ngsi-ld/v1/entities")
    assert failed(skipped)["delft"] == "circuit-open"
    assert len(delft.data_requests) == asked  # skipped at once, not asked
    status = {p["name"]: p for p in region.get("/region/status").json()["peers"]}
    assert status["delft"]["circuit"] == "open" and status["delft"]["retry_in"] == 30
    region.clock[0] += 30  # cool-down over: one trial request, which fails and opens it again
    assert failed(region.get("/region/ngsi-ld/v1/entities"))["delft"] == "status-503"
    assert failed(region.get("/region/ngsi-ld/v1/entities"))["delft"] == "circuit-open"
    delft.fail_status = None
    region.clock[0] += 30  # the next trial succeeds and closes it
    recovered = region.get("/region/ngsi-ld/v1/entities", type=PARKING)
    assert "delft" not in failed(recovered)
    status = {p["name"]: p for p in region.get("/region/status").json()["peers"]}
    assert status["delft"]["circuit"] == "closed" and status["delft"]["last_result"] == "ok"
    assert status["leiden"]["last_result"] in ("unreachable", "circuit-open")


def test_the_callers_token_never_reaches_a_peer(region: Region) -> None:
    reset_delft(region)
    caller = mint(sub="bob")
    region.app.state.region.tokens.entries.clear()  # the service token from earlier tests
    for city in region.cities.values():
        city.data_requests.clear()
        city.token_requests.clear()
    answer = region.get("/region/ngsi-ld/v1/entities", token=caller, type=PARKING)
    assert answer.status_code == 200
    den_haag, zuid_holland, delft = (region.cities[n] for n in ("den-haag", "zuid-holland", "delft"))
    # den-haag: RFC 8693 token exchange of the caller's token at its identity MIM, as our client.
    [exchange] = den_haag.token_requests
    assert exchange["client"] == "gateway-rotterdam:dh-secret"
    assert exchange["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert exchange["subject_token"] == caller and exchange["audience"] == den_haag.token_requests[0]["audience"]
    assert den_haag.data_requests[-1]["authorization"] == "Bearer den-haag-token-1"
    # zuid-holland: this gateway's own service token.
    [service] = zuid_holland.token_requests
    assert service["grant_type"] == "client_credentials" and service["client"] == "gateway-rotterdam:zh-secret"
    assert zuid_holland.data_requests[-1]["authorization"] == "Bearer zuid-holland-token-1"
    # delft has no auth: asked without any token.
    assert "authorization" not in delft.data_requests[-1]
    every_header = [value for city in region.cities.values() for h in city.data_requests for value in h.values()]
    assert not any(caller in value for value in every_header)
    # Tokens are reused: a second request from the same caller asks no identity MIM again.
    region.get("/region/ngsi-ld/v1/entities", token=caller, type=PARKING)
    assert len(den_haag.token_requests) == 1 and len(zuid_holland.token_requests) == 1


def test_types_are_the_union_over_the_region(region: Region) -> None:
    reset_delft(region)
    answer = region.get("/region/ngsi-ld/v1/types")
    assert answer.status_code == 200
    assert answer.json()["type"] == "EntityTypeList"
    assert answer.json()["typeList"] == [PARKING, "Road"]


def test_one_entity_is_found_in_its_city_or_the_caller_chooses_among_several(region: Region) -> None:
    reset_delft(region)
    found = region.get("/region/ngsi-ld/v1/entities/urn:ngsi-ld:Road:n14")
    assert found.status_code == 200 and found.json()["city"]["value"] == "zuid-holland"
    ambiguous = region.get("/region/ngsi-ld/v1/entities/urn:ngsi-ld:OffStreetParking:shared")
    assert ambiguous.status_code == 409 and ambiguous.json()["cities"] == ["den-haag", "rotterdam"]
    chosen = region.get("/region/ngsi-ld/v1/entities/urn:ngsi-ld:OffStreetParking:shared", city="rotterdam")
    assert chosen.status_code == 200 and chosen.json()["name"]["value"] == "Rotterdam Centraal"
    missing = region.get("/region/ngsi-ld/v1/entities/urn:ngsi-ld:OffStreetParking:nowhere")
    assert missing.status_code == 404 and "leiden" in missing.json()["detail"]


def test_region_reads_need_a_token_with_context_read(region: Region) -> None:
    assert httpx.get(region.url + "/region/ngsi-ld/v1/entities").status_code == 401
    assert region.get("/region/ngsi-ld/v1/entities", token=mint(scope="permit:submit")).status_code == 403
    assert region.get("/region/status", token=mint(scope="permit:submit")).status_code == 403


def test_a_peer_added_through_the_admin_api_joins_the_region(region: Region) -> None:
    reset_delft(region)
    gouda = FakeCity("gouda", [entity("urn:ngsi-ld:OffStreetParking:gouda-1", "Markt")])
    admin = {"Authorization": f"Bearer {mint(scope='admin')}"}
    with served(gouda.app, free_port()) as url:
        document = {"name": "gouda", "base_url": url, "issuer": url}
        assert httpx.put(region.url + "/admin/peers/gouda", json=document, headers=admin).status_code == 201
        try:
            answer = region.get("/region/ngsi-ld/v1/entities", type=PARKING, limit=50)
        finally:
            assert httpx.delete(region.url + "/admin/peers/gouda", headers=admin).status_code == 204
    assert ("gouda", "urn:ngsi-ld:OffStreetParking:gouda-1") in [(e["city"]["value"], e["id"]) for e in answer.json()]
    assert "gouda" in answer.headers["OUP-Region-Answered"]


def test_region_reads_are_audited(region: Region) -> None:
    reset_delft(region)
    reader = mint(sub="carol")
    assert region.get("/region/ngsi-ld/v1/entities", token=reader, type="Road").status_code == 200
    admin = {"Authorization": f"Bearer {mint(scope='admin')}"}
    records: list[dict[str, Any]] = []
    for _ in range(100):  # the audit log is written in batches, in the background
        records = httpx.get(region.url + "/admin/audit", params={"subject": "carol"}, headers=admin).json()
        if records:
            break
        time.sleep(0.05)
    [record] = records
    assert (record["route"], record["entity_type"], record["decision"], record["status"]) == ("region", "Road", "allow", 200)
    assert record["client_id"] == "dashboard" and record["path"] == "/region/ngsi-ld/v1/entities"


def test_a_cookie_a_peer_sets_is_never_sent_back_for_other_callers(region: Region) -> None:
    reset_delft(region)
    delft = region.cities["delft"]
    for caller in ("frank", "grace"):
        assert region.get("/region/ngsi-ld/v1/entities", token=mint(sub=caller), type=PARKING).status_code == 200
    assert delft.data_requests and all("cookie" not in headers for headers in delft.data_requests)


def test_a_refused_region_read_is_audited_with_who_was_refused(region: Region) -> None:
    refused = region.get("/region/ngsi-ld/v1/entities", token=mint(sub="erin", scope="permit:submit"), type="Road")
    assert refused.status_code == 403
    anonymous = httpx.get(region.url + "/region/ngsi-ld/v1/types", timeout=10)
    assert anonymous.status_code == 401
    admin = {"Authorization": f"Bearer {mint(scope='admin')}"}
    wanted = {("erin", "insufficient_scope", 403), (None, "missing_token", 401)}
    seen: set[tuple[str | None, str, int]] = set()
    for _ in range(100):
        records = httpx.get(region.url + "/admin/audit", params={"decision": "deny", "route": "region"},
                            headers=admin).json()
        seen = {(r["subject"], r["reason"], r["status"]) for r in records}
        if wanted <= seen:
            break
        time.sleep(0.05)
    assert wanted <= seen


def test_peer_status_is_in_the_metrics(region: Region) -> None:
    reset_delft(region)
    assert region.get("/region/ngsi-ld/v1/entities", type=PARKING).status_code == 200
    text = httpx.get(region.url + "/metrics", timeout=10).text
    assert 'gateway_peer_up{peer="den-haag"} 1.0' in text
    assert 'gateway_peer_up{peer="leiden"} 0.0' in text
    assert 'gateway_peer_answers_total{peer="leiden",result="unreachable"}' in text
    assert 'gateway_peer_duration_seconds_count{peer="delft"}' in text
    assert 'gateway_peer_circuit_open{peer="leiden"}' in text


def test_a_peer_whose_identity_refuses_the_exchange_is_reported_and_not_asked(region: Region) -> None:
    reset_delft(region)
    den_haag = region.cities["den-haag"]
    den_haag.token_status = 400
    den_haag.data_requests.clear()
    try:
        answer = region.get("/region/ngsi-ld/v1/entities", token=mint(sub="dave"), type=PARKING)
    finally:
        den_haag.token_status = 200
    assert answer.status_code == 200 and failed(answer)["den-haag"] == "token"
    assert den_haag.data_requests == []
    assert "den-haag" not in {e["city"]["value"] for e in answer.json()}


def test_a_query_this_city_refuses_is_the_callers_error_not_a_city_down(region: Region) -> None:
    answer = region.get("/region/ngsi-ld/v1/entities", type=PARKING, q="name==")
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["detail"].startswith("q: expected a value"), answer.json()["detail"]


def test_this_city_refusing_the_region_itself_is_a_failed_city_not_the_callers_error(tmp_path: Path) -> None:
    """A 401 of this city's own broker (it wants a token the region does not forward) says nothing
    about the caller's query: the other cities still answer, and this one is listed as failed."""
    own = FakeCity("rotterdam", [entity("urn:ngsi-ld:OffStreetParking:rdm-1", "Markthal")])
    own.fail_status = 401
    peer = FakeCity("den-haag", [entity("urn:ngsi-ld:OffStreetParking:dh-1", "Malieveld")])
    with ExitStack() as stack:
        own_url = stack.enter_context(served(own.app, free_port()))
        peer_url = stack.enter_context(served(peer.app, free_port()))
        (tmp_path / "peers.json").write_bytes(orjson.dumps([{"name": "den-haag", "base_url": peer_url,
                                                              "issuer": peer_url}]))
        app = create_gateway(GatewaySettings(city="rotterdam", data_dir=tmp_path / "gateway", context_url=own_url,
                                             issuers=[ISSUER], jwks_url=ISSUER + "/jwks",
                                             peers_file=tmp_path / "peers.json", rate_limit=None))
        app.state.token_verifier = TokenVerifier(jwks=JWKS, issuers=[ISSUER], audience=None)
        url = stack.enter_context(served(app, free_port()))
        answer = httpx.get(url + "/region/ngsi-ld/v1/entities", params={"type": PARKING},
                           headers={"Authorization": f"Bearer {mint()}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert failed(answer) == {"rotterdam": "status-401"}
    assert [e["id"] for e in answer.json()] == ["urn:ngsi-ld:OffStreetParking:dh-1"]
