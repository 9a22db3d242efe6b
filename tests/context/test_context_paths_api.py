"""Ids containing '/', '#', '?', '%' and non-ASCII characters in request paths (clauses 4.6.2, 6.3.1).

Clients put an id into one path segment percent-encoded; the broker routes on the undecoded path,
so such ids reach the operation they address, never another route, and every Location it answers
can be used as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from starlette.testclient import TestClient
from test_context_csources_api import Served

from mims.context.service import create_app

API = "/ngsi-ld/v1"
ENTITIES = f"{API}/entities"
TEMPORAL = f"{API}/temporal/entities"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
SMART_DATA_MODELS = Path(__file__).resolve().parents[1] / "ppi_schemas" / "data" / "smart-data-models"
IDS = [
    "urn:ngsi-ld:Building:a/b",
    "http://example.org/buildings/1",
    "urn:ngsi-ld:Building:a/attrs/name",
    "urn:ngsi-ld:Building:x#y?z%25",
    "urn:ngsi-ld:Building:Straße/€",
]
# Subscription and registration ids are URIs in their PPIs (RFC 3986: ASCII, other characters
# percent-encoded in the id itself, which the path then encodes once more).
URI_IDS = [*(value for value in IDS if value.isascii()), "urn:ngsi-ld:Thing:Stra%C3%9Fe/%E2%82%AC"]
T10, T11 = "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z"


def segment(value: str) -> str:
    """``value`` as one path segment, the way clients percent-encode it."""
    return quote(value, safe="")


def building(entity_id: str, **attributes: Any) -> dict[str, Any]:
    members = {name: {"type": "Property", "value": value} for name, value in attributes.items()}
    return {"id": entity_id, "type": "Building", **members}


def created(response: httpx.Response) -> str:
    """The Location of a 201 answer, checked to hold the id in a single segment."""
    assert response.status_code == 201, response.text
    location = response.headers["location"]
    assert "#" not in location and "?" not in location
    return location


def problem(response: httpx.Response, status: int, error_type: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["type"] == ERRORS + error_type


@pytest.mark.parametrize("entity_id", IDS)
def test_entity_lifecycle_through_its_location(broker: TestClient, entity_id: str) -> None:
    location = created(broker.post(ENTITIES, json=building(entity_id, name="Depot")))
    assert location == f"{ENTITIES}/{quote(entity_id, safe=':')}"
    assert broker.get(location).json()["id"] == entity_id
    assert broker.get(f"{ENTITIES}/{segment(entity_id)}").json()["id"] == entity_id

    assert broker.post(f"{location}/attrs", json={"height": {"type": "Property", "value": 12}}).status_code == 204
    assert broker.patch(f"{location}/attrs", json={"height": {"type": "Property", "value": 13}}).status_code == 204
    assert broker.patch(f"{location}/attrs/name", json={"value": "Markthal"}).status_code == 204
    assert broker.delete(f"{location}/attrs/height").status_code == 204
    assert broker.patch(location, json={"floors": {"type": "Property", "value": 3}}).status_code == 204
    entity = broker.get(location, params={"options": "keyValues"}).json()
    assert entity == {"id": entity_id, "type": "Building", "name": "Markthal", "floors": 3}

    assert broker.delete(location).status_code == 204
    problem(broker.get(location), 404, "ResourceNotFound")


def test_ids_listed_by_a_query_address_their_entities(broker: TestClient) -> None:
    for entity_id in IDS:
        created(broker.post(ENTITIES, json=building(entity_id, name="Depot")))
    listed = [entity["id"] for entity in broker.get(ENTITIES, params={"type": "Building", "limit": 100}).json()]
    assert sorted(listed) == sorted(IDS)
    for entity_id in listed:
        assert broker.get(f"{ENTITIES}/{segment(entity_id)}").json()["id"] == entity_id


def test_an_encoded_slash_never_selects_another_route(broker: TestClient) -> None:
    created(broker.post(ENTITIES, json=building("urn:ngsi-ld:Building:a", name="Depot")))
    lookalike = f"{ENTITIES}/{segment('urn:ngsi-ld:Building:a/attrs/name')}"
    # Not Delete Attribute "name" of urn:ngsi-ld:Building:a: Delete Entity of an unknown id.
    problem(broker.delete(lookalike), 404, "ResourceNotFound")
    problem(broker.get(lookalike), 404, "ResourceNotFound")
    problem(broker.patch(f"{ENTITIES}/{segment('urn:ngsi-ld:Building:a/attrs')}", json={"name": "x"}), 404, "ResourceNotFound")
    # Nor a redirect to the decoded path when a trailing slash is added.
    problem(broker.delete(f"{lookalike}/", follow_redirects=False), 404, "ResourceNotFound")
    assert broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:a").json()["name"]["value"] == "Depot"
    # An id decoded from the path is not re-split either: the same id reaches Delete Attribute.
    created(broker.post(ENTITIES, json=building("urn:ngsi-ld:Building:a/attrs/name", name="Depot")))
    assert broker.delete(f"{lookalike}/attrs/name").status_code == 204
    assert "name" not in broker.get(lookalike).json()
    assert broker.get(f"{ENTITIES}/urn:ngsi-ld:Building:a").json()["name"]["value"] == "Depot"


def test_attribute_and_type_names_with_slashes(broker: TestClient) -> None:
    size, kind = "https://example.org/terms/size", "https://example.org/types/Tower"
    body = {"id": "urn:ngsi-ld:Tower:1", "type": kind, size: {"type": "Property", "value": 7}}
    location = created(broker.post(ENTITIES, json=body))
    assert broker.patch(f"{location}/attrs/{segment(size)}", json={"value": 8}).status_code == 204
    assert broker.get(location).json()[size]["value"] == 8
    assert broker.get(f"{API}/types/{segment(kind)}").json()["attributeDetails"][0]["attributeName"] == size
    assert broker.get(f"{API}/attributes/{segment(size)}").json()["attributeTypes"] == ["Property"]
    assert broker.delete(f"{location}/attrs/{segment(size)}").status_code == 204
    assert size not in broker.get(location).json()


@pytest.mark.parametrize("entity_id", IDS)
def test_temporal_entity_through_its_location(broker: TestClient, entity_id: str) -> None:
    speeds = [{"type": "Property", "value": value, "observedAt": at} for value, at in ((10, T10), (20, T11))]
    location = created(broker.post(TEMPORAL, json={"id": entity_id, "type": "Vehicle", "speed": speeds}))
    assert location == f"{TEMPORAL}/{quote(entity_id, safe=':')}"
    history = broker.get(location).json()
    assert history["id"] == entity_id and [item["value"] for item in history["speed"]] == [10, 20]

    instance = f"{location}/attrs/speed/{segment(history['speed'][0]['instanceId'])}"
    change = {"speed": {"type": "Property", "value": 15, "observedAt": T10}}
    assert broker.patch(instance, json=change).status_code == 204
    assert [item["value"] for item in broker.get(location).json()["speed"]] == [15, 20]
    assert broker.delete(f"{location}/attrs/speed").status_code == 204
    assert "speed" not in broker.get(location).json()
    assert broker.delete(location).status_code == 204
    problem(broker.get(location), 404, "ResourceNotFound")


@pytest.mark.parametrize("subscription_id", URI_IDS)
def test_subscription_crud_by_location(broker: TestClient, subscription_id: str) -> None:
    body = {
        "id": subscription_id,
        "type": "Subscription",
        "entities": [{"type": "Building"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
    }
    location = created(broker.post(f"{API}/subscriptions", json=body))
    assert location == f"{API}/subscriptions/{quote(subscription_id, safe=':')}"
    assert broker.get(location).json()["id"] == subscription_id
    assert broker.patch(location, json={"isActive": False}).status_code == 204
    assert broker.get(f"{API}/subscriptions/{segment(subscription_id)}").json()["isActive"] is False
    assert broker.delete(location).status_code == 204
    problem(broker.get(location), 404, "ResourceNotFound")


@pytest.mark.parametrize("registration_id", URI_IDS)
def test_registration_crud_by_location(broker: TestClient, registration_id: str) -> None:
    body = {
        "id": registration_id,
        "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "Building"}]}],
        "endpoint": "http://127.0.0.1:9",
    }
    location = created(broker.post(f"{API}/csourceRegistrations", json=body))
    assert location == f"{API}/csourceRegistrations/{quote(registration_id, safe=':')}"
    assert broker.get(location).json()["id"] == registration_id
    assert broker.patch(location, json={"endpoint": "http://127.0.0.1:10"}).status_code == 204
    assert broker.get(location).json()["endpoint"] == "http://127.0.0.1:10"
    assert broker.delete(location).status_code == 204
    problem(broker.get(location), 404, "ResourceNotFound")


@pytest.mark.parametrize("subscription_id", URI_IDS)
def test_csource_subscription_crud_by_location(broker: TestClient, subscription_id: str) -> None:
    body = {
        "id": subscription_id,
        "type": "Subscription",
        "entities": [{"type": "Building"}],
        "notification": {"endpoint": {"uri": "http://127.0.0.1:9/notify"}},
    }
    location = created(broker.post(f"{API}/csourceSubscriptions", json=body))
    assert broker.get(location).json()["id"] == subscription_id
    assert broker.patch(location, json={"isActive": False}).status_code == 204
    assert broker.get(location).json()["isActive"] is False
    assert broker.delete(location).status_code == 204
    problem(broker.get(location), 404, "ResourceNotFound")


def test_a_cached_context_is_found_by_its_encoded_url(broker: TestClient) -> None:
    url = "https://raw.githubusercontent.com/smart-data-models/dataModel.Building/master/context.jsonld"
    link = f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
    assert broker.get(ENTITIES, params={"type": "Building"}, headers={"Link": link}).status_code == 200
    details = broker.get(f"{API}/jsonldContexts/{segment(url)}", params={"details": "true"}).json()
    assert details["URL"] == url and details["kind"] == "Cached"
    hosted = created(broker.post(f"{API}/jsonldContexts", json={"@context": {"size": "https://example.org/size"}}))
    assert broker.get(hosted).json() == {"@context": {"size": "https://example.org/size"}}


def test_distributed_retrieve_forwards_the_id_encoded(broker: TestClient, tmp_path: Path) -> None:
    source = create_app(data_dir=tmp_path / "source", jsonld_remote=False, broker_id="source-broker")
    entity_id = "urn:ngsi-ld:Building:remote/1?#"
    with Served(source) as url, httpx.Client(base_url=url) as remote:
        created(remote.post(ENTITIES, json=building(entity_id, height=12)))
        registration = {
            "type": "ContextSourceRegistration",
            "information": [{"entities": [{"type": "Building"}]}],
            "endpoint": url,
        }
        created(broker.post(f"{API}/csourceRegistrations", json=registration))
        entity = broker.get(f"{ENTITIES}/{segment(entity_id)}").json()
    assert entity["id"] == entity_id and entity["height"]["value"] == 12
