"""Merge Entity with JSON Merge Patch bodies (clause 6.3.4) and the Conflict error type (clause 5.5.2)."""

from __future__ import annotations

from starlette.testclient import TestClient

from mims.context.ngsild.errors import Conflict

ENTITIES = "/ngsi-ld/v1/entities"


def test_merge_entity_takes_a_merge_patch_body(broker: TestClient) -> None:
    entity = {"id": "urn:ngsi-ld:Thing:1", "type": "Thing", "size": {"type": "Property", "value": 1}}
    assert broker.post(ENTITIES, json=entity).status_code == 201
    patch = broker.patch(
        f"{ENTITIES}/urn:ngsi-ld:Thing:1",
        content=b'{"size": {"type": "Property", "value": 2}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patch.status_code == 204
    assert broker.get(f"{ENTITIES}/urn:ngsi-ld:Thing:1").json()["size"]["value"] == 2


def test_merge_patch_is_refused_where_no_merge_happens(broker: TestClient) -> None:
    entity = {"id": "urn:ngsi-ld:Thing:2", "type": "Thing"}
    assert broker.post(ENTITIES, json=entity).status_code == 201
    response = broker.patch(
        f"{ENTITIES}/urn:ngsi-ld:Thing:2/attrs",
        content=b'{"size": {"type": "Property", "value": 2}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 415
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/UnsupportedMediaType"


def test_openapi_describes_bodies_with_the_ppi_schemas(broker: TestClient) -> None:
    document = broker.get("/openapi.json").json()
    create = document["paths"][ENTITIES]["post"]["requestBody"]["content"]["application/ld+json"]["schema"]
    assert create == {"$ref": "#/components/schemas/ngsi-ld-entity"}
    merge = document["paths"][f"{ENTITIES}/{{entityId}}"]["patch"]["requestBody"]["content"]
    assert set(merge) == {"application/json", "application/ld+json", "application/merge-patch+json"}
    assert "ngsi-ld-entity.Attribute" in document["components"]["schemas"]


def test_conflict_is_an_ngsi_ld_409() -> None:
    problem = Conflict("overlaps").to_dict("/x")
    assert (problem["status"], problem["type"]) == (409, "https://uri.etsi.org/ngsi-ld/errors/Conflict")


def test_a_relative_context_url_is_400_wherever_a_body_carries_one(broker: TestClient) -> None:
    """Found by fuzzing: an @context entry "" reached the JSON-LD processor, which failed with a 500."""
    ld = {"Content-Type": "application/ld+json"}
    for path, body in (
        ("/ngsi-ld/v1/temporal/entityOperations/query", {"type": "Query", "@context": [""]}),
        ("/ngsi-ld/v1/entityOperations/query", {"type": "Query", "@context": ["relative/context.jsonld"]}),
        ("/ngsi-ld/v1/subscriptions", {"type": "Subscription", "entities": [{"type": "T"}], "@context": "",
                                       "notification": {"endpoint": {"uri": "http://127.0.0.1:9/n"}}}),
    ):
        response = broker.post(path, json=body, headers=ld)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"
    assert broker.post("/ngsi-ld/v1/jsonldContexts", json={"@context": [""]}).status_code == 400


def test_an_attribute_type_that_is_not_a_string_is_400(broker: TestClient) -> None:
    """Found by fuzzing: an object as an attribute's type failed with a 500."""
    response = broker.post(ENTITIES, json={"id": "urn:x:1", "type": "T", "a": {"type": {"x": 1}, "value": 1}})
    assert response.status_code == 400
    assert response.json()["errors"][0]["pointer"] == "/a/type"
    assert broker.get(f"{ENTITIES}/urn:x:1").status_code == 404


def test_a_nul_character_anywhere_in_a_body_is_400_and_nothing_is_stored(broker: TestClient) -> None:
    """Found by fuzzing: U+0000 in a registration reached PostgreSQL, which cannot store it (500)."""
    for path, body in (
        (ENTITIES, {"id": "urn:ngsi-ld:Thing:nul", "type": "Thing", "name": {"type": "Property", "value": "a\x00b"}}),
        (ENTITIES, {"id": "urn:ngsi-ld:Thing:nul", "type": "Thing", "na\x00me": {"type": "Property", "value": 1}}),
        ("/ngsi-ld/v1/entityOperations/upsert", [{"id": "urn:ngsi-ld:Thing:nul", "type": "Thing\x00"}]),
        ("/ngsi-ld/v1/csourceRegistrations", {
            "type": "ContextSourceRegistration", "endpoint": "https://source.example",
            "information": [{"entities": [{"type": "Thing"}]}],
            "contextSourceInfo": [{"key": "k", "value": "\x00"}],
        }),
    ):
        response = broker.post(path, json=body)
        assert response.status_code == 400, (path, response.text)
        assert "U+0000" in response.json()["detail"]
    assert broker.get(f"{ENTITIES}/urn:ngsi-ld:Thing:nul").status_code == 404
    # An escaped backslash followed by "u0000" is text, not the character: accepted.
    text = {"id": "urn:ngsi-ld:Thing:text", "type": "Thing", "name": {"type": "Property", "value": "\\u0000"}}
    assert broker.post(ENTITIES, json=text).status_code == 201
