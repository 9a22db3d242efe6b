"""The region's catalogue search over real HTTP: this city's marketplace (a real marketplace MIM)
and peer gateways (stand-ins with knobs for slowness and failure), merged, paged, and partial
when a peer is slow, dead or failing."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI, Request, Response
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from starlette.testclient import TestClient

import ppi_schemas
from gateway.service import create_app as create_gateway
from gateway.settings import GatewaySettings
from mims.kit.auth import TokenVerifier
from mims.kit.middleware import REQUEST_ID_HEADER
from mims.marketplace.service import create_app as create_marketplace
from tests.serving import closed_port, free_port, served

ISSUER = "http://127.0.0.1:9/rotterdam"
KEY = ECKey.generate_key("P-256", {"kid": "region-catalogue-1"})
PATH = "/region/marketplace/datasets"


def admin() -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "gateway", "sub": "root", "client_id": "admin", "iat": now, "exp": now + 300,
              "jti": uuid.uuid4().hex, "scope": "admin"}
    token = jwt.encode({"alg": "ES256", "kid": KEY.kid, "typ": "at+jwt"}, claims, KEY, algorithms=["ES256"])
    return {"Authorization": f"Bearer {token}"}


class FakeCatalogue:
    """A peer gateway's ``/marketplace/datasets``: its datasets, one publisher, and failure knobs."""

    def __init__(self, name: str, count: int, publisher: str) -> None:
        self.name, self.publisher = name, publisher
        self.datasets = [{"@id": f"https://{name}.example/datasets/{n}", "title": [{"@value": f"{name} {n}"}]}
                         for n in range(count)]
        self.delay = 0.0
        self.fail_status: int | None = None
        self.invalid = False
        self.requests: list[list[tuple[str, str]]] = []
        self.lock = threading.Lock()
        self.app = FastAPI()
        self.app.get("/marketplace/datasets")(self.search)

    async def search(self, request: Request) -> Response:
        with self.lock:
            self.requests.append(request.query_params.multi_items())
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_status is not None:
            return Response(b"{}", status_code=self.fail_status, media_type="application/json")
        if self.invalid:
            return Response(b"<html>maintenance</html>", media_type="text/html")
        offset, limit = int(request.query_params.get("offset", 0)), int(request.query_params.get("limit", 20))
        facets = {"publisher": [{"value": self.publisher, "count": len(self.datasets)}], "theme": [], "keyword": [],
                  "licence": [], "format": []}
        body = {"total": len(self.datasets), "limit": limit, "offset": offset,
                "items": self.datasets[offset:offset + limit], "facets": facets}
        return Response(orjson.dumps(body), media_type="application/json")

    def reset(self) -> None:
        self.delay, self.fail_status, self.invalid = 0.0, None, False
        self.requests.clear()


class Region:
    def __init__(self, url: str, app: FastAPI, peers: dict[str, FakeCatalogue], clock: list[float]) -> None:
        self.url, self.app, self.peers, self.clock = url, app, peers, clock

    def search(self, **params: Any) -> httpx.Response:
        return httpx.get(self.url + PATH, params=params, timeout=10)

    def reset(self) -> None:
        for peer in self.peers.values():
            peer.reset()
        for breaker in self.app.state.region.circuits.breakers.values():
            breaker.succeeded()


@pytest.fixture(scope="module")
def region(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Region]:
    """Rotterdam (a real marketplace with the PPI's three examples) with peers den-haag (2 datasets),
    delft (150 datasets; slow or failing on demand) and leiden (no server)."""
    folder: Path = tmp_path_factory.mktemp("region-catalogue")
    peers = {"den-haag": FakeCatalogue("den-haag", 2, "Gemeente Den Haag"),
             "delft": FakeCatalogue("delft", 150, "Gemeente Delft")}
    clock = [1000.0]
    with ExitStack() as stack:
        marketplace = stack.enter_context(served(create_marketplace(data_dir=folder / "marketplace"), free_port()))
        for example in ppi_schemas.get("dcat-dataset@1").examples_valid:
            assert httpx.post(marketplace + "/datasets", json=example.payload).status_code == 201
        urls = {name: stack.enter_context(served(peer.app, free_port())) for name, peer in peers.items()}
        documents = [{"name": name, "base_url": url, "issuer": url, "timeout": 1.0} for name, url in urls.items()]
        documents.append({"name": "leiden", "base_url": f"http://127.0.0.1:{stack.enter_context(closed_port())}",
                          "issuer": "http://127.0.0.1:9/leiden", "timeout": 5})
        (folder / "peers.json").write_bytes(orjson.dumps(documents))
        settings = GatewaySettings(
            city="rotterdam", data_dir=folder / "gateway", marketplace_url=marketplace, issuers=[ISSUER],
            jwks_url=ISSUER + "/jwks", peers_file=folder / "peers.json", peer_failure_threshold=2,
            peer_cooldown=30, rate_limit=None,
        )
        app = create_gateway(settings)
        app.state.clock = lambda: clock[0]
        app.state.token_verifier = TokenVerifier(jwks=KeySet([KEY]).as_dict(), issuers=[ISSUER], audience=None)
        yield Region(stack.enter_context(served(app, free_port())), app, peers, clock)


def failed(response: httpx.Response) -> dict[str, str]:
    header = response.headers.get("OUP-Region-Failed", "")
    return dict(item.strip().replace('"', "").split(";reason=") for item in header.split(",") if item.strip())


def test_every_city_is_searched_and_the_answers_merged(region: Region) -> None:
    region.reset()
    answer = region.search(limit=100, offset=100)  # public: no token
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert answer.headers["OUP-Region-Answered"] == "delft, den-haag, rotterdam"
    assert failed(answer) == {"leiden": "unreachable"}
    assert body["total"] == 150 + 2 + 3
    cities = [item["city"] for item in body["items"]]
    assert cities == ["delft"] * 50 + ["den-haag"] * 2 + ["rotterdam"] * 3  # by city, then each city's order
    assert [item["@id"] for item in body["items"][:2]] == ["https://delft.example/datasets/100",
                                                          "https://delft.example/datasets/101"]
    assert body["items"][-1]["@type"] == "Dataset"  # the city's own DCAT-AP document, tagged
    publishers = {facet["value"]: facet["count"] for facet in body["facets"]["publisher"]}
    # Rotterdam's own catalogue has one Den Haag dataset: counts are summed across cities.
    assert publishers["Gemeente Den Haag"] == 3 and publishers["Gemeente Delft"] == 150
    assert body["facets"]["publisher"][0] == {"value": "Gemeente Delft", "count": 150}


def test_search_parameters_are_passed_on_and_the_merged_list_paged(region: Region) -> None:
    region.reset()
    answer = region.search(q="parkeren", theme=["http://a.example/T1", "http://a.example/T2"], limit=3, offset=1)
    assert answer.status_code == 200, answer.text
    asked = region.peers["den-haag"].requests[0]
    assert asked == [("q", "parkeren"), ("theme", "http://a.example/T1"), ("theme", "http://a.example/T2"),
                     ("limit", "4"), ("offset", "0")]
    ids = [item["@id"] for item in answer.json()["items"]]
    assert ids == ["https://delft.example/datasets/1", "https://delft.example/datasets/2",
                   "https://delft.example/datasets/3"]


def test_a_window_beyond_one_page_is_fetched_page_by_page(region: Region) -> None:
    region.reset()
    answer = region.search(limit=10, offset=145)
    cities = [(item["city"], item["@id"].rsplit("/", 1)[-1]) for item in answer.json()["items"]]
    assert cities[:5] == [("delft", str(n)) for n in range(145, 150)]
    assert [item["city"] for item in answer.json()["items"]] == ["delft"] * 5 + ["den-haag"] * 2 + ["rotterdam"] * 3
    pages = [dict(request) for request in region.peers["delft"].requests]
    assert [(p["limit"], p["offset"]) for p in pages] == [("100", "0"), ("55", "100")]


def test_a_slow_peer_gives_a_partial_answer_naming_it(region: Region) -> None:
    region.reset()
    region.peers["delft"].delay = 3.0
    started = time.perf_counter()
    answer = region.search(limit=100)
    assert time.perf_counter() - started < 2.5  # delft's timeout is 1 s
    assert answer.status_code == 200
    assert failed(answer) == {"delft": "timeout", "leiden": "unreachable"}
    assert answer.headers["OUP-Region-Answered"] == "den-haag, rotterdam"
    body = answer.json()
    assert body["total"] == 5 and {item["city"] for item in body["items"]} == {"den-haag", "rotterdam"}
    assert "Gemeente Delft" not in {facet["value"] for facet in body["facets"]["publisher"]}


def test_a_failing_peer_opens_its_circuit(region: Region) -> None:
    region.reset()
    region.peers["den-haag"].fail_status = 503
    assert failed(region.search())["den-haag"] == "status-503"
    assert failed(region.search())["den-haag"] == "status-503"
    asked = len(region.peers["den-haag"].requests)
    assert failed(region.search())["den-haag"] == "circuit-open"
    assert len(region.peers["den-haag"].requests) == asked  # not asked while open
    region.peers["den-haag"].fail_status = None
    region.clock[0] += 31  # cool-down over: one trial closes it again
    assert "den-haag" in region.search().headers["OUP-Region-Answered"]


def test_a_peer_answering_no_search_result_is_reported(region: Region) -> None:
    region.reset()
    region.peers["den-haag"].invalid = True
    answer = region.search()
    assert failed(answer)["den-haag"] == "invalid-response"
    assert answer.json()["total"] == 153


def test_a_bad_search_is_this_citys_problem_passed_on(region: Region) -> None:
    region.reset()
    answer = region.search(bbox="not,a,box")
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "bbox" in answer.text


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"offset": 995, "limit": 10}])
def test_paging_out_of_bounds_is_refused(region: Region, params: dict[str, Any]) -> None:
    answer = region.search(**params)
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_region_catalogue_searches_are_audited(region: Region) -> None:
    region.reset()
    request_id = uuid.uuid4().hex
    answer = httpx.get(region.url + PATH, params={"q": "audited"}, headers={REQUEST_ID_HEADER: request_id})
    assert answer.status_code == 200
    records: list[dict[str, Any]] = []
    for _ in range(100):  # the audit log is written in batches, in the background
        records = httpx.get(region.url + "/admin/audit", params={"route": "region"}, headers=admin()).json()
        if any(record["request_id"] == request_id for record in records):
            break
        time.sleep(0.05)
    record = next(record for record in records if record["request_id"] == request_id)
    assert record["path"] == PATH
    assert (record["decision"], record["status"], record["client_id"]) == ("allow", 200, None)


def test_a_city_without_a_marketplace_says_so(tmp_path: Path) -> None:
    settings = GatewaySettings(city="gouda", data_dir=tmp_path, issuers=[ISSUER], jwks_url=ISSUER + "/jwks",
                               rate_limit=None)
    with TestClient(create_gateway(settings)) as client:
        answer = client.get(PATH)
    assert answer.status_code == 200
    assert failed(answer) == {"gouda": "no-marketplace"}
    assert answer.json()["total"] == 0 and answer.json()["items"] == []
