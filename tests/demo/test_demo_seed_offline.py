"""The seed against a fake gateway: an interrupted seed completes on the next one without doubling
any history, and whatever odd answer the platform gives ends as a SeedError saying what and where."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import httpx
import orjson
import pytest

from mims.cli.demo import rotterdam, seed
from mims.cli.demo.city import CityDemo
from mims.cli.demo.seed import SeedError
from mims.kit.geo.twin_entities import ZONING_PLAN, entity_id

GATEWAY = "http://gateway.test"
NGSI_LD = "/ngsi-ld/v1"
Answer = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(scope="module")
def demo() -> CityDemo:
    """Rotterdam's demo cut short: the layers with and without history, a plan, two datasets."""
    full = rotterdam.demo(datetime(2026, 3, 1, 12, tzinfo=UTC), GATEWAY)
    layers = [layer for layer in full.layers if layer.kind in ("buildings", "air quality")]
    return CityDemo(full.name, layers, full.zoning_plans, [e for e in full.datasets if e.offers][:2])


class FakeGateway:
    """The platform behind the gateway, in memory. ``odd`` answers the first request of a method to a
    path (``*/offers``: ending in ``/offers``) its own way; ``refused`` entities are refused once."""

    def __init__(self, demo: CityDemo) -> None:
        self.type_of = {entity["id"]: layer.type_iri for layer in demo.layers for entity in layer.entities}
        self.twin: set[str] = set()
        self.temporal: Counter[str] = Counter()  # entity id -> instances written through the temporal API
        self.recorded: set[str] = set()  # entities with any history (a twin write records one, as the broker does)
        self.plans: set[str] = set()
        self.datasets: dict[str, str] = {}
        self.offers: set[str] = set()
        self.writes: list[str] = []  # what changed the platform
        self.odd: dict[tuple[str, str], Answer] = {}
        self.refused: set[str] = set()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        method, path = request.method, unquote(request.url.path)
        for key in [(method, path), (method, "*/" + path.rsplit("/", 1)[-1])]:
            if key in self.odd:
                return self.odd.pop(key)(request)
        json_body = "json" in request.headers.get("content-type", "")
        body = orjson.loads(request.content) if json_body else None
        if path == "/.well-known/oauth-authorization-server":
            return httpx.Response(200, json={"token_endpoint": f"{GATEWAY}/token"})
        if path == "/token":
            return httpx.Response(200, json={"access_token": "token", "token_type": "Bearer"})
        if path == f"{NGSI_LD}/entities" and method == "GET":
            wanted = request.url.params["type"]
            return httpx.Response(200, json=[{"id": i} for i in sorted(self.twin) if self.type_of.get(i) == wanted])
        if path == f"{NGSI_LD}/entityOperations/upsert":
            ids = [entity["id"] for entity in body]
            if self.refused & set(ids):
                self.refused.clear()
                return httpx.Response(400, json={"title": "Bad Request", "detail": "refused"})
            self.twin.update(ids)
            self.writes.append(f"upsert {ids}")
            self.recorded.update(ids)
            return httpx.Response(201, json=ids)
        if path == f"{NGSI_LD}/temporal/entities" and method == "POST":
            self.temporal[body["id"]] += 1
            self.writes.append(f"history {body['id']}")
            self.recorded.add(body["id"])
            return httpx.Response(201)
        if path.startswith(f"{NGSI_LD}/temporal/entities/"):
            return httpx.Response(200 if path.rsplit("/", 1)[1] in self.recorded else 404, json={})
        if path.startswith(f"{NGSI_LD}/entities/"):
            plan = path.rsplit("/", 1)[1]
            return httpx.Response(200 if plan in {entity_id(ZONING_PLAN, p) for p in self.plans} else 404, json={})
        if path.startswith("/permit-check/v1/zoning-plans/"):
            self.plans.add(path.rsplit("/", 1)[1])
            self.writes.append(f"plan {path}")
            return httpx.Response(201, json=body)
        if path == "/marketplace/datasets" and method == "GET":
            items = [{"@id": iri, "title": [{"@language": "en", "@value": t}]} for t, iri in self.datasets.items()]
            return httpx.Response(200, json={"items": items, "total": len(items)})
        if path == "/marketplace/datasets":
            iri = f"{GATEWAY}/marketplace/datasets/{len(self.datasets) + 1}"
            self.datasets[body["title"]["en"]] = iri
            self.writes.append(f"dataset {iri}")
            return httpx.Response(201, headers={"Location": iri}, json=body)
        if path.endswith("/offers"):
            if body["uid"] in self.offers:
                return httpx.Response(409, json={"title": "taken"})
            self.offers.add(body["uid"])
            self.writes.append(f"offer {body['uid']}")
            return httpx.Response(201, json=body)
        return httpx.Response(404, json={"title": f"no {method} {path} here"})


def _seed(gateway: FakeGateway, demo: CityDemo, monkeypatch: pytest.MonkeyPatch) -> seed.Summary:
    monkeypatch.setitem(seed.CITIES, "rotterdam", lambda now, url: demo)
    return seed.seed("rotterdam", GATEWAY, "seeder", "secret", transport=gateway.transport())


def _stations(demo: CityDemo) -> set[str]:
    return {history["id"] for layer in demo.layers for history in layer.histories}


def test_a_second_seed_writes_nothing(demo: CityDemo, monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = FakeGateway(demo)
    assert _seed(gateway, demo, monkeypatch).changed
    written = list(gateway.writes)
    again = _seed(gateway, demo, monkeypatch)
    assert not again.changed
    assert gateway.writes == written
    assert gateway.temporal == dict.fromkeys(_stations(demo), 1)


def test_a_history_refused_once_is_written_by_the_next_seed(demo: CityDemo, monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = FakeGateway(demo)
    gateway.odd[("POST", f"{NGSI_LD}/temporal/entities")] = lambda request: httpx.Response(
        503, json={"title": "Service Unavailable", "detail": "the history store is down"})
    with pytest.raises(SeedError, match="the history store is down"):
        _seed(gateway, demo, monkeypatch)
    _seed(gateway, demo, monkeypatch)
    assert gateway.temporal == dict.fromkeys(_stations(demo), 1)
    assert _stations(demo) <= gateway.twin


def test_an_entity_refused_after_its_history_is_written_without_a_second_history(
        demo: CityDemo, monkeypatch: pytest.MonkeyPatch) -> None:
    gateway = FakeGateway(demo)
    gateway.refused = _stations(demo)
    with pytest.raises(SeedError, match="refused"):
        _seed(gateway, demo, monkeypatch)
    assert not _stations(demo) & gateway.twin
    _seed(gateway, demo, monkeypatch)
    assert gateway.temporal == dict.fromkeys(_stations(demo), 1)
    assert _stations(demo) <= gateway.twin


def _not_json(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"<html>a proxy's page</html>", headers={"Content-Type": "text/html"})


def _unreachable(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _answer(status: int, document: Any = None, **headers: str) -> Answer:
    return lambda request: httpx.Response(status, json=document, headers=headers)


PLAN_PATH = f"{NGSI_LD}/entities/{entity_id(ZONING_PLAN, rotterdam.PLAN_ID)}"


@pytest.mark.parametrize(("method", "path", "odd", "said"), [
    ("GET", "/.well-known/oauth-authorization-server", _not_json, "no JSON body"),
    ("GET", "/.well-known/oauth-authorization-server", _answer(200, {"issuer": "x"}), "'token_endpoint'"),
    ("POST", "/token", _answer(200, {"token_type": "Bearer"}), "'access_token'"),
    ("GET", f"{NGSI_LD}/entities", _answer(200, {"id": "not a list"}), "no array of entities"),
    ("GET", f"{NGSI_LD}/entities", _answer(200, [{"type": "Building"}]), "'id'"),
    ("GET", PLAN_PATH, _unreachable, "did not answer"),
    ("GET", PLAN_PATH, _answer(500, {"title": "Internal Server Error"}), "answered 500"),
    ("GET", "/marketplace/datasets", _not_json, "no JSON body"),
    ("GET", "/marketplace/datasets", _answer(200, {"items": []}), "'total'"),
    ("POST", "/marketplace/datasets", _answer(201, {}), "no Location"),
    ("POST", "*/offers", _unreachable, "did not answer"),
    ("POST", "*/offers", _answer(422, {"title": "Unprocessable", "detail": "no such party"}), "no such party"),
])
def test_an_odd_answer_is_a_seed_error_naming_the_request(
        demo: CityDemo, monkeypatch: pytest.MonkeyPatch, method: str, path: str, odd: Answer, said: str) -> None:
    gateway = FakeGateway(demo)
    gateway.odd[(method, path)] = odd
    with pytest.raises(SeedError, match=said) as raised:
        _seed(gateway, demo, monkeypatch)
    assert method in str(raised.value) and path.rsplit("/", 1)[-1] in unquote(str(raised.value))
