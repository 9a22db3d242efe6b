"""Echo over HTTP: a PPI-checked round trip, problems for bad input, readiness, scopes."""

from __future__ import annotations

import ppi_schemas
import pytest
from starlette.testclient import TestClient

from mims.echo.service import SPEC, create_app
from mims.kit import storage
from mims.kit.problems import PROBLEM_JSON
from mims.kit.service import HEALTH_JSON

ENTITY = {
    "id": "urn:ngsi-ld:Building:echo-1",
    "type": "Building",
    "name": {"type": "Property", "value": "Depot"},
}


@pytest.fixture
def http(tmp_path):
    with TestClient(create_app(data_dir=tmp_path)) as client:
        yield client


def _problem(response, status):
    assert (response.status_code, response.headers["content-type"]) == (status, PROBLEM_JSON), response.text
    return response.json()


def test_post_get_list_round_trip(http):
    created = http.post("/echo/messages", json=ENTITY)
    assert created.status_code == 201
    message = created.json()
    assert message["entity"] == ENTITY and message["entityId"] == ENTITY["id"]
    assert created.headers["location"] == f"/echo/messages/{message['id']}"
    assert http.get(created.headers["location"]).json() == message
    listing = http.get("/echo/messages").json()
    assert (listing["total"], listing["items"], listing["limit"], listing["offset"]) == (1, [message], 20, 0)


def test_every_valid_example_entity_is_accepted(http):
    examples = ppi_schemas.get("ngsi-ld-entity@1.0.0").examples_valid
    for example in examples:
        assert http.post("/echo/messages", json=example.payload).status_code == 201, example.name
    assert http.get("/echo/messages", params={"limit": 100}).json()["total"] == len(examples)


def test_paging(http):
    ids = [http.post("/echo/messages", json={**ENTITY, "id": f"urn:ngsi-ld:Building:{n}"}).json()["id"] for n in range(3)]
    page = http.get("/echo/messages", params={"limit": 2, "offset": 1}).json()
    assert [m["id"] for m in page["items"]] == ids[1:]


@pytest.mark.parametrize(
    ("params", "pointer"),
    [({"limit": 0}, "/limit"), ({"limit": 101}, "/limit"), ({"offset": -1}, "/offset"), ({"offset": 10**12}, "/offset")],
)
def test_paging_out_of_range_is_400(http, params, pointer):
    body = _problem(http.get("/echo/messages", params=params), 400)
    assert [(e["pointer"], e["location"]) for e in body["errors"]] == [(pointer, "query")]


def test_missing_message_is_404(http):
    body = _problem(http.get("/echo/messages/unknown"), 404)
    assert "unknown" in body["detail"]


def test_invalid_entity_is_400_with_pointers(http):
    body = _problem(http.post("/echo/messages", json={"type": "Building"}), 400)
    assert "/id" in {e["pointer"] for e in body["errors"]}
    assert http.get("/echo/messages").json()["total"] == 0


def test_openapi_documents_the_entity_ppi(http):
    operation = http.get("/openapi.json").json()["paths"]["/echo/messages"]["post"]
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    assert schema["$id"] == ppi_schemas.get("ngsi-ld-entity@1.0.0").schema["$id"]


def test_well_known_declares_the_entity_ppi(http):
    document = http.get("/.well-known/mim").json()
    assert ppi_schemas.validate(document, "mim-description@1") == []
    assert document["name"] == "echo"
    assert document["consumes"] == [{"ppi": "ngsi-ld-entity", "version": "1.0.0"}]


def test_ready_when_migrated(http):
    response = http.get("/ready")
    assert (response.status_code, response.headers["content-type"]) == (200, HEALTH_JSON)
    assert response.json()["checks"]["database:connection"][0]["status"] == "pass"


def test_not_ready_when_the_database_is_unreachable(http):
    # Nothing listens on loopback port 1: connecting fails at once.
    http.app.state.engine = storage.create_engine("postgresql+asyncpg://oup@127.0.0.1:1/oup")
    response = http.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["database:connection"][0]["output"]


def test_the_database_lives_in_the_data_dir(tmp_path):
    with TestClient(create_app(data_dir=tmp_path / "d")) as client:
        client.post("/echo/messages", json=ENTITY)
    assert (tmp_path / "d" / "echo.db").is_file()


def test_port_precedence(monkeypatch):
    monkeypatch.delenv("OUP_ECHO_PORT", raising=False)
    monkeypatch.delenv("OUP_PORT", raising=False)
    assert SPEC.settings().port == 8009
    monkeypatch.setenv("OUP_PORT", "9100")
    assert SPEC.settings().port == 9100
    monkeypatch.setenv("OUP_ECHO_PORT", "9101")
    assert SPEC.settings().port == 9101


def test_round_trip_on_postgresql(postgres_url, tmp_path):
    with TestClient(create_app(data_dir=tmp_path, database_url=postgres_url)) as client:
        assert client.get("/ready").status_code == 200
        location = client.post("/echo/messages", json=ENTITY).headers["location"]
        assert client.get(location).json()["entity"] == ENTITY
    assert not (tmp_path / "echo.db").exists()
