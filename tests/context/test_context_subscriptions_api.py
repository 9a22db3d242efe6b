"""Subscriptions over HTTP (clauses 6.10, 6.11) and HTTP notifications (5.8.6, 5.3.1), on both engines."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import orjson
import pytest
import uvicorn
from starlette.testclient import TestClient

import ppi_schemas
from mims.context.service import create_app
from tests.serving import free_port

SMART_DATA_MODELS = Path(__file__).resolve().parents[1] / "ppi_schemas" / "data" / "smart-data-models"
SUBS = "/ngsi-ld/v1/subscriptions"
ENTITIES = "/ngsi-ld/v1/entities"


class Receiver:
    """A local HTTP endpoint recording what it is sent; ``/fail`` answers 500, ``/slow`` hangs."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.attempts: dict[str, int] = {}
        self.port = free_port()
        self._server = uvicorn.Server(uvicorn.Config(self._app, host="127.0.0.1", port=self.port,
                                                    log_level="error", interface="asgi3"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def url(self, path: str = "/notify") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        self.attempts[path] = self.attempts.get(path, 0) + 1
        if path == "/slow":
            await asyncio.sleep(30)
        status = 500 if path == "/fail" else 204
        if status == 204:
            headers = {key.decode().lower(): value.decode() for key, value in scope["headers"]}
            self.received.append({"path": path, "headers": headers, "body": orjson.loads(body), "at": time.monotonic()})
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def __enter__(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def wait(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def broker_app(tmp_path: Path, database_url: str | None, **overrides: Any) -> Any:
    settings = {"notification_poll_interval": 0.05, "notification_retry_delay": 0.05, "notification_timeout": 2.0,
                **overrides}
    return create_app(data_dir=tmp_path, database_url=database_url, jsonld_remote=False,
                      jsonld_preload_dir=SMART_DATA_MODELS, **settings)


@pytest.fixture(params=["sqlite", "postgresql"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    database_url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    with TestClient(broker_app(tmp_path, database_url)) as test_client:
        yield test_client


def subscription(uri: str, **members: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "Subscription", "entities": [{"type": "Building"}],
                            "notification": {"endpoint": {"uri": uri}}}
    body.update(members)
    return body


def building(number: int = 1, **attributes: Any) -> dict[str, Any]:
    entity = {"id": f"urn:ngsi-ld:Building:{number}", "type": "Building",
              "name": {"type": "Property", "value": "Depot"},
              "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [4.47, 51.92]}}}
    entity.update(attributes)
    return entity


def create(client: TestClient, body: dict[str, Any]) -> str:
    response = client.post(SUBS, json=body)
    assert response.status_code == 201, response.text
    return response.headers["location"].rsplit("/", 1)[1]


# --- CRUD -----------------------------------------------------------------------------------


def test_create_retrieve_renders_a_valid_subscription(client: TestClient) -> None:
    sid = create(client, subscription("http://127.0.0.1:9/n", watchedAttributes=["name"], q="name==\"Depot\""))
    assert sid.startswith("urn:ngsi-ld:Subscription:")
    body = client.get(f"{SUBS}/{sid}").json()
    assert ppi_schemas.is_valid(body, "ngsi-ld-subscription@1.0.0"), ppi_schemas.validate(body, "ngsi-ld-subscription@1.0.0")
    assert body["status"] == "active" and body["isActive"] is True
    assert body["watchedAttributes"] == ["name"] and body["entities"] == [{"type": "Building"}]
    assert body["notificationTrigger"] == ["attributeCreated", "attributeUpdated"]
    assert body["notification"]["timesSent"] == 0 and body["q"] == "name==\"Depot\""


def test_names_are_stored_expanded_and_compacted_per_request(client: TestClient) -> None:
    sid = create(client, subscription("http://127.0.0.1:9/n", entities=[{"type": "https://example.org/Thing"}],
                                      watchedAttributes=["https://example.org/size"]))
    link = '<https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld>; rel="http://www.w3.org/ns/json-ld#context"'
    body = client.get(f"{SUBS}/{sid}", headers={"Link": link}).json()
    assert body["entities"][0]["type"] == "https://example.org/Thing"
    assert body["watchedAttributes"] == ["https://example.org/size"]


def test_duplicate_id_is_409_and_unknown_is_404(client: TestClient) -> None:
    body = subscription("http://127.0.0.1:9/n", id="urn:ngsi-ld:Subscription:one")
    create(client, body)
    response = client.post(SUBS, json=body)
    assert response.status_code == 409
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists"
    assert client.get(f"{SUBS}/urn:ngsi-ld:Subscription:none").status_code == 404
    assert client.delete(f"{SUBS}/urn:ngsi-ld:Subscription:none").status_code == 404


@pytest.mark.parametrize(
    ("members", "pointer"),
    [
        ({"entities": None, "watchedAttributes": None}, "/entities"),
        ({"q": "name=="}, "/q"),
        ({"scopeQ": "/a;;"}, "/scopeQ"),
        ({"geoQ": {"geometry": "Point", "coordinates": [1], "georel": "near;maxDistance==5"}}, "/geoQ/coordinates"),
        ({"expiresAt": "2001-01-01T00:00:00Z"}, "/expiresAt"),
        ({"notification": {"endpoint": {"uri": "ftp://example.org/x"}}}, "/notification/endpoint/uri"),
        ({"notification": {"endpoint": {"uri": "http://x.org", "accept": "text/plain"}}}, "/notification/endpoint/accept"),
        ({"timeInterval": 10, "watchedAttributes": ["name"]}, "/watchedAttributes"),
        ({"entities": [{"type": "Building", "idPattern": "(["}]}, "/entities/0/idPattern"),
    ],
)
def test_invalid_subscriptions_are_400_bad_request_data(client: TestClient, members: dict[str, Any], pointer: str) -> None:
    body = {key: value for key, value in subscription("http://127.0.0.1:9/n", **members).items() if value is not None}
    response = client.post(SUBS, json=body)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert any(error["pointer"] == pointer for error in problem["errors"]), problem


def test_query_pages_and_counts(client: TestClient) -> None:
    for number in range(3):
        create(client, subscription("http://127.0.0.1:9/n", id=f"urn:ngsi-ld:Subscription:{number}"))
    response = client.get(SUBS, params={"limit": 2, "offset": 1, "count": "true"})
    assert response.headers["ngsild-results-count"] == "3"
    assert [item["id"] for item in response.json()] == ["urn:ngsi-ld:Subscription:1", "urn:ngsi-ld:Subscription:2"]


def test_patch_updates_and_pauses_and_delete_removes(client: TestClient) -> None:
    sid = create(client, subscription("http://127.0.0.1:9/n"))
    response = client.patch(f"{SUBS}/{sid}", json={"isActive": False, "notification": {"format": "keyValues"}})
    assert response.status_code == 204, response.text
    body = client.get(f"{SUBS}/{sid}").json()
    assert body["status"] == "paused" and body["notification"]["format"] == "keyValues"
    assert body["notification"]["endpoint"]["uri"] == "http://127.0.0.1:9/n"
    assert client.patch(f"{SUBS}/{sid}", json={"q": "(("}).status_code == 400
    assert client.delete(f"{SUBS}/{sid}").status_code == 204
    assert client.get(f"{SUBS}/{sid}").status_code == 404


def test_unknown_tenant_is_404(client: TestClient) -> None:
    response = client.get(SUBS, headers={"NGSILD-Tenant": "nobody"})
    assert response.status_code == 404


# --- notifications ---------------------------------------------------------------------------


def test_entity_created_notifies_a_valid_notification(client: TestClient, receiver: Receiver) -> None:
    sid = create(client, subscription(receiver.url()))
    assert client.post(ENTITIES, json=building()).status_code == 201
    [received] = receiver.wait(1)
    body = received["body"]
    assert ppi_schemas.is_valid(body, "ngsi-ld-notification@1.0.0"), body
    assert body["subscriptionId"] == sid and body["triggerReason"] == "attributeCreated"
    assert body["data"][0]["name"] == {"type": "Property", "value": "Depot"}
    assert received["headers"]["content-type"] == "application/json"
    assert "json-ld#context" in received["headers"]["link"]
    status = client.get(f"{SUBS}/{sid}").json()["notification"]
    deadline = time.monotonic() + 5
    while status.get("timesSent") != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
        status = client.get(f"{SUBS}/{sid}").json()["notification"]
    assert status["status"] == "ok" and "lastSuccess" in status


def test_deleted_trigger_and_filters(client: TestClient, receiver: Receiver) -> None:
    create(client, subscription(receiver.url("/deleted"), notificationTrigger=["entityDeleted"]))
    create(client, subscription(receiver.url("/q"), q="floors>3"))
    create(client, subscription(receiver.url("/geo"), geoQ={"geometry": "Point", "coordinates": [4.47, 51.92],
                                                            "georel": "near;maxDistance==100"}))
    client.post(ENTITIES, json=building(1, floors={"type": "Property", "value": 2}))
    client.post(ENTITIES, json=building(2, floors={"type": "Property", "value": 5},
                                        location={"type": "GeoProperty",
                                                  "value": {"type": "Point", "coordinates": [5.0, 52.0]}}))
    receiver.wait(2)
    time.sleep(0.5)  # SQLite: let the delivery bookkeeping commit before the next read-then-write
    assert client.delete(f"{ENTITIES}/urn:ngsi-ld:Building:1").status_code == 204
    received = receiver.wait(3)
    time.sleep(0.3)
    by_path = {(item["path"], item["body"]["data"][0]["id"]) for item in receiver.received}
    assert by_path == {("/deleted", "urn:ngsi-ld:Building:1"), ("/q", "urn:ngsi-ld:Building:2"),
                       ("/geo", "urn:ngsi-ld:Building:1")}
    deleted = next(item["body"] for item in received if item["path"] == "/deleted")
    assert deleted["triggerReason"] == "entityDeleted" and "deletedAt" in deleted["data"][0]


def test_formats_projection_and_json_ld(client: TestClient, receiver: Receiver) -> None:
    create(client, subscription(receiver.url("/kv"), notification={
        "endpoint": {"uri": receiver.url("/kv"), "accept": "application/ld+json",
                     "receiverInfo": [{"key": "X-City", "value": "Rotterdam"}]},
        "format": "keyValues", "attributes": ["name"]}))
    client.post(ENTITIES, json=building())
    [received] = receiver.wait(1)
    body = received["body"]
    assert body["data"] == [{"id": "urn:ngsi-ld:Building:1", "type": "Building", "name": "Depot"}]
    assert body["@context"] and received["headers"]["content-type"] == "application/ld+json"
    assert received["headers"]["x-city"] == "Rotterdam"
    assert ppi_schemas.is_valid(body, "ngsi-ld-notification@1.0.0")


def test_paused_and_expired_subscriptions_are_silent(client: TestClient, receiver: Receiver) -> None:
    create(client, subscription(receiver.url("/paused"), isActive=False))
    soon = (datetime.now(UTC) + timedelta(seconds=0.5)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    sid = create(client, subscription(receiver.url("/expired"), expiresAt=soon))
    time.sleep(0.7)
    assert client.get(f"{SUBS}/{sid}").json()["status"] == "expired"
    create(client, subscription(receiver.url("/live")))
    client.post(ENTITIES, json=building())
    receiver.wait(1)
    time.sleep(0.3)
    assert [item["path"] for item in receiver.received] == ["/live"]


def test_throttling_limits_notifications(client: TestClient, receiver: Receiver) -> None:
    create(client, subscription(receiver.url(), throttling=60))
    for number in range(3):
        client.post(ENTITIES, json=building(number))
    receiver.wait(1)
    time.sleep(0.4)
    assert len(receiver.received) == 1


def test_failures_are_retried_with_backoff_and_reported(client: TestClient, receiver: Receiver) -> None:
    sid = create(client, subscription(receiver.url("/fail")))
    client.post(ENTITIES, json=building())
    deadline = time.monotonic() + 10
    while receiver.attempts.get("/fail", 0) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert receiver.attempts["/fail"] == 5  # notification_max_attempts, then given up
    status = client.get(f"{SUBS}/{sid}").json()["notification"]
    assert status["status"] == "failed" and status["timesFailed"] == 5 and "lastFailure" in status


def test_a_dead_endpoint_does_not_delay_a_live_one(client: TestClient, receiver: Receiver) -> None:
    create(client, subscription(receiver.url("/slow")))
    create(client, subscription(f"http://127.0.0.1:{free_port()}/dead"))
    create(client, subscription(receiver.url("/live")))
    started = time.monotonic()
    client.post(ENTITIES, json=building())
    [received] = receiver.wait(1)
    assert received["path"] == "/live" and received["at"] - started < 1.5


def test_periodic_subscription_notifies_matching_entities(client: TestClient, receiver: Receiver) -> None:
    client.post(ENTITIES, json=building(1))
    client.post(ENTITIES, json=building(2))
    create(client, subscription(receiver.url(), timeInterval=0.3))
    received = receiver.wait(2, timeout=5)
    assert len(received) >= 2
    assert {entity["id"] for entity in received[0]["body"]["data"]} == {"urn:ngsi-ld:Building:1", "urn:ngsi-ld:Building:2"}
    assert "triggerReason" not in received[0]["body"]
    # Generated one interval apart (receipt times jitter with delivery load, notifiedAt does not).
    first, second = (datetime.fromisoformat(r["body"]["notifiedAt"].replace("Z", "+00:00")) for r in received[:2])
    assert (second - first).total_seconds() >= 0.29


def test_show_changes_and_removed_attributes(client: TestClient, receiver: Receiver) -> None:
    """Clause 5.8.6: removed attributes are notified as the NGSI-LD Null; with showChanges the
    notified attributes also carry what they held before the change."""
    triggers = ["attributeUpdated", "attributeDeleted", "entityDeleted"]
    create(client, subscription(receiver.url("/changes"), notificationTrigger=triggers, notification={
        "endpoint": {"uri": receiver.url("/changes")}, "showChanges": True}))
    create(client, subscription(receiver.url("/plain"), notificationTrigger=triggers))
    assert client.post(ENTITIES, json=building(kind={"type": "VocabProperty", "vocab": "Depot"})).status_code == 201
    entity = f"{ENTITIES}/urn:ngsi-ld:Building:1"
    assert client.patch(f"{entity}/attrs", json={"name": {"type": "Property", "value": "Warehouse"},
                                                 "kind": {"type": "VocabProperty", "vocab": "Store"}}).status_code == 204
    receiver.wait(2)
    time.sleep(0.3)
    assert client.delete(f"{entity}/attrs/name").status_code == 204
    receiver.wait(4)
    time.sleep(0.3)
    assert client.delete(entity).status_code == 204
    received = receiver.wait(6)
    time.sleep(0.3)
    assert len(receiver.received) == 6
    by_path: dict[str, list[dict[str, Any]]] = {}
    for item in received:
        assert ppi_schemas.is_valid(item["body"], "ngsi-ld-notification@1.0.0"), item["body"]
        by_path.setdefault(item["path"], []).append(item["body"])
    updated, deleted_name, deleted_entity = by_path["/changes"]
    assert updated["triggerReason"] == "attributeUpdated"
    assert updated["data"][0]["name"] == {"type": "Property", "value": "Warehouse", "previousValue": "Depot"}
    assert updated["data"][0]["kind"] == {"type": "VocabProperty", "vocab": "Store", "previousVocab": "Depot"}
    assert "previousValue" not in updated["data"][0]["location"]  # unchanged
    assert deleted_name["data"][0]["name"] == {"type": "Property", "value": "urn:ngsi-ld:null",
                                               "previousValue": "Warehouse"}
    gone = deleted_entity["data"][0]
    assert deleted_entity["triggerReason"] == "entityDeleted" and "deletedAt" in gone
    assert gone["location"] == {"type": "GeoProperty", "value": "urn:ngsi-ld:null",
                                "previousValue": {"type": "Point", "coordinates": [4.47, 51.92]}}
    plain_updated, plain_deleted_name, plain_deleted_entity = by_path["/plain"]
    assert plain_updated["data"][0]["name"] == {"type": "Property", "value": "Warehouse"}
    assert plain_deleted_name["data"][0]["name"] == {"type": "Property", "value": "urn:ngsi-ld:null"}
    assert set(plain_deleted_entity["data"][0]) == {"id", "type", "deletedAt"}


def test_show_changes_is_refused_with_key_values(client: TestClient) -> None:
    response = client.post(SUBS, json=subscription("http://127.0.0.1:9/n", notification={
        "endpoint": {"uri": "http://127.0.0.1:9/n"}, "format": "keyValues", "showChanges": True}))
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


def test_notifications_join_linked_entities(client: TestClient, receiver: Receiver) -> None:
    """Clause 4.5.23 in notifications: inline puts the linked entity in the Relationship, flat
    adds it to ``data``."""
    create(client, subscription(receiver.url("/inline"), watchedAttributes=["owner"], notification={
        "endpoint": {"uri": receiver.url("/inline")}, "join": "inline", "joinLevel": 2}))
    create(client, subscription(receiver.url("/flat"), watchedAttributes=["owner"], notification={
        "endpoint": {"uri": receiver.url("/flat")}, "join": "flat"}))
    person = {"id": "urn:ngsi-ld:Person:1", "type": "Person", "name": {"type": "Property", "value": "Ada"},
              "employer": {"type": "Relationship", "object": "urn:ngsi-ld:Company:1"}}
    company = {"id": "urn:ngsi-ld:Company:1", "type": "Company", "name": {"type": "Property", "value": "Port"}}
    for body in (company, person):
        assert client.post(ENTITIES, json=body).status_code == 201
    owned = building(owner={"type": "Relationship", "object": "urn:ngsi-ld:Person:1"})
    assert client.post(ENTITIES, json=owned).status_code == 201
    received = receiver.wait(2)
    time.sleep(0.3)
    assert len(receiver.received) == 2
    by_path = {item["path"]: item["body"] for item in received}
    inline = by_path["/inline"]["data"]
    assert len(inline) == 1
    linked = inline[0]["owner"]["entity"]
    assert linked["id"] == "urn:ngsi-ld:Person:1" and linked["name"]["value"] == "Ada"
    assert linked["employer"]["entity"]["name"]["value"] == "Port"  # joinLevel 2
    flat = by_path["/flat"]["data"]
    assert [item["id"] for item in flat] == ["urn:ngsi-ld:Building:1", "urn:ngsi-ld:Person:1"]
    assert "entity" not in flat[0]["owner"]
    for body in by_path.values():
        assert ppi_schemas.is_valid(body, "ngsi-ld-notification@1.0.0")


def test_invalid_join_in_a_subscription_is_400(client: TestClient) -> None:
    response = client.post(SUBS, json=subscription("http://127.0.0.1:9/n", notification={
        "endpoint": {"uri": "http://127.0.0.1:9/n"}, "join": "flat", "joinLevel": 50}))
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["pointer"] == "/notification/joinLevel"
