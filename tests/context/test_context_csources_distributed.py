"""Distributed entity reads (clause 4.3): forwarding to a second broker, merging, Via, failures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from test_context_csources_api import REGISTRATIONS, Served

from mims.context.ngsild.distributed import Contribution, merge_entity
from mims.context.service import create_app
from tests.serving import free_port

ENTITIES = "/ngsi-ld/v1/entities"
SMART_DATA_MODELS = (
    Path(__file__).resolve().parents[1] / "ppi_schemas" / "data" / "smart-data-models"
)


@pytest.fixture
def source(tmp_path: Path) -> Iterator[tuple[str, httpx.Client]]:
    """A second broker served over HTTP, acting as the context source, and a client for it."""
    app = create_app(
        data_dir=tmp_path / "source",
        jsonld_remote=False,
        jsonld_preload_dir=SMART_DATA_MODELS,
        broker_id="source-broker",
    )
    with Served(app) as url, httpx.Client(base_url=url) as client:
        yield url, client


def building(entity_id: str, **attributes: Any) -> dict[str, Any]:
    return {
        "id": entity_id,
        "type": "Building",
        **{
            name: {"type": "Property", "value": value}
            for name, value in attributes.items()
        },
    }


def create(client: TestClient | httpx.Client, entity: dict[str, Any]) -> None:
    response = client.post(ENTITIES, json=entity)
    assert response.status_code == 201, response.text


def register(broker: TestClient, endpoint: str, **members: Any) -> None:
    body = {
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "Building"}]}],
        "endpoint": endpoint,
        **members,
    }
    response = broker.post(REGISTRATIONS, json=body)
    assert response.status_code == 201, response.text


def test_query_merges_local_and_remote_entities(
    broker: TestClient, source: tuple[str, httpx.Client]
) -> None:
    url, remote = source
    create(broker, building("urn:ngsi-ld:Building:local", name="Depot"))
    create(remote, building("urn:ngsi-ld:Building:remote", name="Markthal"))
    create(remote, building("urn:ngsi-ld:Building:local", height=12))
    assert [
        e["id"] for e in broker.get(ENTITIES, params={"type": "Building"}).json()
    ] == ["urn:ngsi-ld:Building:local"]
    register(broker, url)
    response = broker.get(ENTITIES, params={"type": "Building", "count": "true"})
    assert response.status_code == 200, response.text
    assert "NGSILD-Warning" not in response.headers
    found = {entity["id"]: entity for entity in response.json()}
    assert set(found) == {"urn:ngsi-ld:Building:local", "urn:ngsi-ld:Building:remote"}
    assert found["urn:ngsi-ld:Building:local"]["name"]["value"] == "Depot"
    assert found["urn:ngsi-ld:Building:local"]["height"]["value"] == 12
    assert response.headers["NGSILD-Results-Count"] == "2"
    paged = broker.get(
        ENTITIES, params={"type": "Building", "limit": "1", "offset": "1"}
    ).json()
    assert [e["id"] for e in paged] == ["urn:ngsi-ld:Building:remote"]
    local_only = broker.get(
        ENTITIES, params={"type": "Building", "local": "true"}
    ).json()
    assert [e["id"] for e in local_only] == ["urn:ngsi-ld:Building:local"]
    unrelated = broker.get(ENTITIES, params={"type": "Vehicle"})
    assert unrelated.json() == []


def test_retrieve_reaches_the_context_source(
    broker: TestClient, source: tuple[str, httpx.Client]
) -> None:
    url, remote = source
    create(remote, building("urn:ngsi-ld:Building:remote", name="Markthal"))
    assert broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:remote").status_code == 404
    register(broker, url)
    response = broker.get(
        f"{ENTITIES}/urn:ngsi-ld:Building:remote", params={"options": "keyValues"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "id": "urn:ngsi-ld:Building:remote",
        "type": "Building",
        "name": "Markthal",
    }
    assert broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:nowhere").status_code == 404
    assert (
        broker.get(
            f"{ENTITIES}/urn:ngsi-ld:Building:remote", params={"local": "true"}
        ).status_code
        == 404
    )


def test_exclusive_registration_takes_precedence(
    broker: TestClient, source: tuple[str, httpx.Client]
) -> None:
    url, remote = source
    entity_id = "urn:ngsi-ld:Building:shared"
    create(broker, building(entity_id, name="Depot", height=10))
    create(remote, building(entity_id, name="Elsewhere", height=42))
    info = [
        {
            "entities": [{"id": entity_id, "type": "Building"}],
            "propertyNames": ["height"],
        }
    ]
    register(broker, url, mode="exclusive", information=info)
    body = broker.get(f"{ENTITIES}/{entity_id}", params={"options": "keyValues"}).json()
    assert body == {"id": entity_id, "type": "Building", "name": "Depot", "height": 42}


def test_via_naming_this_broker_is_not_forwarded(
    broker: TestClient, source: tuple[str, httpx.Client]
) -> None:
    url, remote = source
    create(remote, building("urn:ngsi-ld:Building:remote", name="Markthal"))
    register(broker, url)
    me = broker.app.state.federation.broker_id
    looped = broker.get(
        ENTITIES,
        params={"type": "Building"},
        headers={"Via": f"1.1 source-broker, 1.1 {me}"},
    )
    assert looped.json() == []
    passed = broker.get(
        ENTITIES, params={"type": "Building"}, headers={"Via": "1.1 source-broker"}
    )
    assert [e["id"] for e in passed.json()] == ["urn:ngsi-ld:Building:remote"]


def test_brokers_registered_in_each_other_do_not_loop(
    source: tuple[str, httpx.Client], tmp_path: Path
) -> None:
    url, remote = source
    create(remote, building("urn:ngsi-ld:Building:remote", name="Markthal"))
    app = create_app(
        data_dir=tmp_path / "front", jsonld_remote=False, broker_id="front-broker"
    )
    with Served(app) as front_url, httpx.Client(base_url=front_url) as front:
        loop = {
            "type": "ContextSourceRegistration",
            "information": [{"entities": [{"type": "Building"}]}],
        }
        assert (
            front.post(REGISTRATIONS, json={**loop, "endpoint": url}).status_code == 201
        )
        assert (
            remote.post(REGISTRATIONS, json={**loop, "endpoint": front_url}).status_code
            == 201
        )
        response = front.get(ENTITIES, params={"type": "Building"})
    assert response.status_code == 200
    assert "NGSILD-Warning" not in response.headers
    assert [e["id"] for e in response.json()] == ["urn:ngsi-ld:Building:remote"]


def test_a_dead_context_source_gives_a_partial_result_with_a_warning(
    broker: TestClient,
) -> None:
    create(broker, building("urn:ngsi-ld:Building:local", name="Depot"))
    register(broker, f"http://127.0.0.1:{free_port()}")
    response = broker.get(ENTITIES, params={"type": "Building"})
    assert response.status_code == 200
    assert [e["id"] for e in response.json()] == ["urn:ngsi-ld:Building:local"]
    assert response.headers["NGSILD-Warning"].startswith("199 127.0.0.1:")
    missing = broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:remote")
    assert missing.status_code == 404 and "NGSILD-Warning" in missing.headers
    found = broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:local")
    assert found.status_code == 200 and "NGSILD-Warning" in found.headers


def test_merge_keeps_instances_by_dataset_and_the_latest_observation() -> None:
    name = "https://example.org/name"
    local = {
        "id": "urn:x:1",
        "type": ["https://example.org/A"],
        "attributes": {
            name: [
                {
                    "type": "Property",
                    "value": "old",
                    "observedAt": "2026-01-01T00:00:00Z",
                },
                {"type": "Property", "value": "a", "datasetId": "urn:d:a"},
            ]
        },
    }
    remote = {
        "id": "urn:x:1",
        "type": ["https://example.org/B"],
        "attributes": {
            name: [
                {
                    "type": "Property",
                    "value": "new",
                    "observedAt": "2026-02-01T00:00:00Z",
                },
                {"type": "Property", "value": "b", "datasetId": "urn:d:b"},
            ],
            "https://example.org/extra": [{"type": "Property", "value": 1}],
        },
    }
    auxiliary = {
        "id": "urn:x:1",
        "type": ["https://example.org/A"],
        "attributes": {
            name: [{"type": "Property", "value": "ignored"}],
            "https://example.org/only": [{"type": "Property", "value": 2}],
        },
    }
    merged = merge_entity(
        [
            Contribution("local", local),
            Contribution("inclusive", remote),
            Contribution("auxiliary", auxiliary),
        ]
    )
    assert merged["type"] == ["https://example.org/A", "https://example.org/B"]
    assert [instance["value"] for instance in merged["attributes"][name]] == [
        "new",
        "a",
        "b",
    ]
    assert set(merged["attributes"]) == {
        name,
        "https://example.org/extra",
        "https://example.org/only",
    }


def test_registration_tenant_and_operations_are_honoured(
    broker: TestClient, source: tuple[str, httpx.Client]
) -> None:
    url, remote = source
    response = remote.post(
        ENTITIES,
        json=building("urn:ngsi-ld:Building:north", name="Noord"),
        headers={"NGSILD-Tenant": "north"},
    )
    assert response.status_code == 201
    register(broker, url, operations=["updateOps"])
    assert broker.get(ENTITIES, params={"type": "Building"}).json() == []
    register(broker, url, tenant="north", operations=["queryEntity"])
    found = broker.get(ENTITIES, params={"type": "Building"}).json()
    assert [e["id"] for e in found] == ["urn:ngsi-ld:Building:north"]
    counted = broker.get(
        ENTITIES, params={"type": "Building", "count": "true", "limit": "0"}
    )
    assert counted.json() == [] and counted.headers["NGSILD-Results-Count"] == "1"
    assert "NGSILD-Warning" not in counted.headers
    assert (
        broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:north").status_code == 404
    )  # queryEntity only


def test_attrs_are_narrowed_to_what_a_source_registered(
    broker: TestClient, source: tuple[str, httpx.Client]
) -> None:
    url, remote = source
    create(remote, building("urn:ngsi-ld:Building:remote", name="Markthal", height=40))
    register(
        broker,
        url,
        information=[{"entities": [{"type": "Building"}], "propertyNames": ["height"]}],
    )
    body = broker.get(
        ENTITIES, params={"type": "Building", "options": "keyValues"}
    ).json()
    assert body == [
        {"id": "urn:ngsi-ld:Building:remote", "type": "Building", "height": 40}
    ]
    assert (
        broker.get(ENTITIES, params={"type": "Building", "attrs": "name"}).json() == []
    )


def test_registrations_report_how_their_sources_answered(
    broker: TestClient, source: tuple[str, httpx.Client]
) -> None:
    """Clause 5.2.9: timesSent, timesFailed, lastSuccess, lastFailure and status of each registration."""
    url, _ = source
    register(broker, url, id="urn:ngsi-ld:ContextSourceRegistration:live")
    register(broker, f"http://127.0.0.1:{free_port()}", id="urn:ngsi-ld:ContextSourceRegistration:dead")
    fresh = broker.get(f"{REGISTRATIONS}/urn:ngsi-ld:ContextSourceRegistration:live").json()
    assert "timesSent" not in fresh and "status" not in fresh  # never asked yet
    for _ in range(2):
        assert broker.get(ENTITIES, params={"type": "Building"}).status_code == 200
    listed = {item["id"]: item for item in broker.get(REGISTRATIONS).json()}
    live = listed["urn:ngsi-ld:ContextSourceRegistration:live"]
    dead = listed["urn:ngsi-ld:ContextSourceRegistration:dead"]
    assert (live["status"], live["timesSent"], live["timesFailed"]) == ("ok", 2, 0)
    assert "lastSuccess" in live and "lastFailure" not in live
    assert (dead["status"], dead["timesSent"], dead["timesFailed"]) == ("failed", 2, 2)
    assert "lastFailure" in dead and "lastSuccess" not in dead
    assert broker.get(ENTITIES, params={"type": "Building", "local": "true"}).status_code == 200
    again = broker.get(f"{REGISTRATIONS}/urn:ngsi-ld:ContextSourceRegistration:live").json()
    assert again["timesSent"] == 2  # local=true asks no source
    assert broker.delete(f"{REGISTRATIONS}/urn:ngsi-ld:ContextSourceRegistration:dead").status_code == 204
    register(broker, f"http://127.0.0.1:{free_port()}", id="urn:ngsi-ld:ContextSourceRegistration:dead")
    assert "timesSent" not in broker.get(f"{REGISTRATIONS}/urn:ngsi-ld:ContextSourceRegistration:dead").json()


def test_csf_chooses_the_registrations_a_request_is_forwarded_through(
    broker: TestClient, source: tuple[str, httpx.Client]
) -> None:
    """Clause 4.3.6.3: csf selects registrations by their own properties; others are not asked."""
    url, remote = source
    create(remote, building("urn:ngsi-ld:Building:remote", name="Noord"))
    register(broker, url, id="urn:ngsi-ld:ContextSourceRegistration:city", operator="city")
    register(broker, f"http://127.0.0.1:{free_port()}", id="urn:ngsi-ld:ContextSourceRegistration:dead",
             operator="vendor")
    everything = broker.get(ENTITIES, params={"type": "Building"})
    assert [e["id"] for e in everything.json()] == ["urn:ngsi-ld:Building:remote"]
    assert "NGSILD-Warning" in everything.headers  # the dead source was asked too
    city = broker.get(ENTITIES, params={"type": "Building", "csf": 'operator=="city"'})
    assert [e["id"] for e in city.json()] == ["urn:ngsi-ld:Building:remote"]
    assert "NGSILD-Warning" not in city.headers
    vendor = broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:remote", params={"csf": 'operator=="vendor"'})
    assert vendor.status_code == 404 and "NGSILD-Warning" in vendor.headers
    assert broker.get(ENTITIES, params={"type": "Building", "csf": "operator=="}).status_code == 400
