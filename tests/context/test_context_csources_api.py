"""Context source registrations and csource subscriptions over HTTP (clauses 5.9-5.11, 6.8-6.11)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request
from starlette.testclient import TestClient

import ppi_schemas

REGISTRATIONS = "/ngsi-ld/v1/csourceRegistrations"
SUBSCRIPTIONS = "/ngsi-ld/v1/csourceSubscriptions"
JSON_LD = {"Content-Type": "application/ld+json"}
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"


def registration(**members: Any) -> dict[str, Any]:
    body = {
        "id": "urn:ngsi-ld:ContextSourceRegistration:parking",
        "type": "ContextSourceRegistration",
        "information": [
            {
                "entities": [{"type": "OffStreetParking"}],
                "propertyNames": ["availableSpotNumber"],
            }
        ],
        "endpoint": "http://parking.example.org",
    }
    body.update(members)
    return body


class Served:
    """An ASGI app served by uvicorn on a free local port, in a thread, for the duration of a test."""

    def __init__(self, app: FastAPI) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A notification endpoint recording what it receives."""
    received: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/notify")
    async def notify(request: Request) -> dict[str, str]:
        received.append(await request.json())
        return {}

    with Served(app) as url:
        yield f"{url}/notify", received


def wait_for(received: list[Any], count: int) -> None:
    deadline = time.monotonic() + 10
    while len(received) < count:
        assert time.monotonic() < deadline, (
            f"expected {count} notifications, got {received}"
        )
        time.sleep(0.02)


def test_register_retrieve_and_validate_against_the_ppi(broker: TestClient) -> None:
    created = broker.post(REGISTRATIONS, json=registration(brandName="Q-Park"))
    assert created.status_code == 201, created.text
    assert (
        created.headers["Location"]
        == f"{REGISTRATIONS}/urn:ngsi-ld:ContextSourceRegistration:parking"
    )
    got = broker.get(created.headers["Location"], params={"options": "sysAttrs"})
    assert got.status_code == 200
    body = got.json()
    assert body["information"][0]["entities"] == [{"type": "OffStreetParking"}]
    assert body["mode"] == "inclusive" and body["operations"] == ["federationOps"]
    assert body["brandName"] == "Q-Park" and "createdAt" in body
    assert ppi_schemas.is_valid(body, "ngsi-ld-csource-registration@1.0.0")
    ld = broker.get(
        created.headers["Location"], headers={"Accept": "application/ld+json"}
    ).json()
    assert ld["@context"] == CORE and "createdAt" not in ld
    assert ppi_schemas.is_valid(ld, "ngsi-ld-csource-registration@1.0.0")


def test_registration_id_is_assigned_and_duplicates_refused(broker: TestClient) -> None:
    body = registration()
    del body["id"]
    created = broker.post(REGISTRATIONS, json=body)
    assert created.status_code == 201
    assert created.headers["Location"].startswith(
        f"{REGISTRATIONS}/urn:ngsi-ld:ContextSourceRegistration:"
    )
    assert broker.post(REGISTRATIONS, json=registration()).status_code == 201
    again = broker.post(REGISTRATIONS, json=registration())
    assert again.status_code == 409
    assert again.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists"


@pytest.mark.parametrize(
    ("members", "pointer"),
    [
        ({"information": []}, "/information"),
        ({"endpoint": "mqtt://broker"}, "/endpoint"),
        ({"mode": "sometimes"}, "/mode"),
        (
            {
                "managementInterval": {
                    "startAt": "2026-02-01T00:00:00Z",
                    "endAt": "2026-01-01T00:00:00Z",
                }
            },
            "/managementInterval/endAt",
        ),
        (
            {
                "information": [
                    {"entities": [{"type": "OffStreetParking", "idPattern": "("}]}
                ]
            },
            "/information/0/entities/0/idPattern",
        ),
        ({"mode": "exclusive"}, "/information/0/entities"),
        ({"expiresAt": "2020-01-01T00:00:00Z"}, "/expiresAt"),
    ],
)
def test_invalid_registrations_are_bad_request_data(
    broker: TestClient, members: dict[str, Any], pointer: str
) -> None:
    response = broker.post(REGISTRATIONS, json=registration(**members))
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert pointer in [error["pointer"] for error in problem["errors"]]


def test_overlapping_exclusive_registrations_conflict(broker: TestClient) -> None:
    info = [
        {
            "entities": [
                {
                    "id": "urn:ngsi-ld:OffStreetParking:markthal",
                    "type": "OffStreetParking",
                }
            ],
            "propertyNames": ["availableSpotNumber"],
        }
    ]
    first = registration(
        id="urn:ngsi-ld:ContextSourceRegistration:a", mode="exclusive", information=info
    )
    assert broker.post(REGISTRATIONS, json=first).status_code == 201
    second = registration(
        id="urn:ngsi-ld:ContextSourceRegistration:b", mode="exclusive", information=info
    )
    conflict = broker.post(REGISTRATIONS, json=second)
    assert conflict.status_code == 409
    assert conflict.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/Conflict"
    other = [{**info[0], "propertyNames": ["totalSpotNumber"]}]
    assert (
        broker.post(REGISTRATIONS, json={**second, "information": other}).status_code
        == 201
    )
    inclusive = registration(
        id="urn:ngsi-ld:ContextSourceRegistration:c", information=info
    )
    assert broker.post(REGISTRATIONS, json=inclusive).status_code == 201


def test_update_and_delete(broker: TestClient) -> None:
    location = broker.post(REGISTRATIONS, json=registration()).headers["Location"]
    patched = broker.patch(
        location,
        json={"endpoint": "http://other.example.org", "registrationName": "car parks"},
    )
    assert patched.status_code == 204
    body = broker.get(location).json()
    assert (
        body["endpoint"] == "http://other.example.org"
        and body["registrationName"] == "car parks"
    )
    assert broker.patch(location, json={"mode": "never"}).status_code == 400
    assert broker.patch(location, json={"id": "urn:x:other"}).status_code == 400
    assert broker.delete(location).status_code == 204
    assert broker.get(location).status_code == 404
    assert broker.delete(location).status_code == 404
    assert broker.patch(location, json={"registrationName": "x"}).status_code == 404


def test_query_registrations(broker: TestClient) -> None:
    broker.post(
        REGISTRATIONS,
        json=registration(
            brandName="Q-Park", location={"type": "Point", "coordinates": [4.48, 51.92]}
        ),
    )
    broker.post(
        REGISTRATIONS,
        json=registration(
            id="urn:ngsi-ld:ContextSourceRegistration:air",
            information=[
                {
                    "entities": [
                        {
                            "idPattern": "^urn:ngsi-ld:AirQualityObserved:ZH-.*",
                            "type": "AirQualityObserved",
                        }
                    ]
                }
            ],
            brandName="Provincie",
            scope=["/ZuidHolland"],
            location={"type": "Point", "coordinates": [5.12, 52.09]},
        ),
    )

    def ids(**params: str) -> list[str]:
        response = broker.get(REGISTRATIONS, params=params)
        assert response.status_code == 200, response.text
        return [item["id"].rsplit(":", 1)[1] for item in response.json()]

    assert ids() == ["parking", "air"]
    assert ids(type="AirQualityObserved") == ["air"]
    assert ids(attrs="availableSpotNumber") == ["parking", "air"]
    assert ids(id="urn:ngsi-ld:AirQualityObserved:ZH-1") == ["parking", "air"]
    assert ids(csf='brandName=="Q-Park"') == ["parking"]
    assert ids(scopeQ="/ZuidHolland") == ["air"]
    assert ids(
        georel="near;maxDistance==2000", geometry="Point", coordinates="[4.48,51.93]"
    ) == ["parking"]
    assert ids(limit="1", offset="1") == ["air"]
    counted = broker.get(REGISTRATIONS, params={"count": "true", "limit": "1"})
    assert counted.headers["NGSILD-Results-Count"] == "2"
    assert broker.get(REGISTRATIONS, params={"csf": "brandName=="}).status_code == 400
    assert (
        broker.get(REGISTRATIONS, headers={"NGSILD-Tenant": "nobody"}).status_code
        == 404
    )


def test_registrations_are_per_tenant(broker: TestClient) -> None:
    tenant = {"NGSILD-Tenant": "delft"}
    assert (
        broker.post(REGISTRATIONS, json=registration(), headers=tenant).status_code
        == 201
    )
    assert broker.get(REGISTRATIONS).json() == []
    assert len(broker.get(REGISTRATIONS, headers=tenant).json()) == 1


def test_csource_subscription_crud(broker: TestClient) -> None:
    body = {
        "type": "Subscription",
        "entities": [{"type": "OffStreetParking"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
    }
    created = broker.post(SUBSCRIPTIONS, json=body)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    got = broker.get(location).json()
    assert got["entities"] == [{"type": "OffStreetParking"}] and got["isActive"] is True
    assert len(broker.get(SUBSCRIPTIONS).json()) == 1
    assert broker.patch(location, json={"isActive": False}).status_code == 204
    assert broker.get(location).json()["isActive"] is False
    assert (
        broker.post(SUBSCRIPTIONS, json={**body, "notification": {}}).status_code == 400
    )
    assert (
        broker.post(
            SUBSCRIPTIONS,
            json={"type": "Subscription", "notification": body["notification"]},
        ).status_code
        == 400
    )
    assert broker.delete(location).status_code == 204
    assert broker.get(location).status_code == 404


def test_csource_subscription_notifications(
    broker: TestClient, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    uri, received = receiver
    subscription = {
        "type": "Subscription",
        "entities": [{"type": "OffStreetParking"}],
        "watchedAttributes": ["availableSpotNumber"],
        "notification": {"endpoint": {"uri": uri}},
    }
    assert broker.post(SUBSCRIPTIONS, json=subscription).status_code == 201
    unrelated = registration(
        id="urn:ngsi-ld:ContextSourceRegistration:air",
        information=[{"entities": [{"type": "AirQualityObserved"}]}],
    )
    assert broker.post(REGISTRATIONS, json=unrelated).status_code == 201
    location = broker.post(REGISTRATIONS, json=registration()).headers["Location"]
    wait_for(received, 1)
    assert received[0]["triggerReason"] == "newlyMatching"
    assert (
        received[0]["data"][0]["id"] == "urn:ngsi-ld:ContextSourceRegistration:parking"
    )
    broker.patch(location, json={"registrationName": "car parks"})
    wait_for(received, 2)
    assert received[1]["triggerReason"] == "updated"
    assert received[1]["data"][0]["registrationName"] == "car parks"
    broker.delete(location)
    wait_for(received, 3)
    assert received[2]["triggerReason"] == "noLongerMatching"
    assert {item["type"] for item in received} == {"Notification"}
    assert len(received) == 3
