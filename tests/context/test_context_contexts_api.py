"""@context management (CIM 009 V1.8.1, clause 5.13; clauses 6.29 and 6.30) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from starlette.testclient import TestClient

from mims.context.ngsild.context import JSONLD_CONTEXT_REL
from mims.context.service import create_app
from ppi_schemas.jsonld import NGSI_LD_CORE_CONTEXT_URL

CONTEXTS = "/ngsi-ld/v1/jsonldContexts"
ENTITIES = "/ngsi-ld/v1/entities"
ERRORS = "https://uri.etsi.org/ngsi-ld/errors/"
SDM = "https://raw.githubusercontent.com/smart-data-models/dataModel.Building/master/context.jsonld"
VOCAB = {"Depot": "https://example.org/vocab/Depot", "capacity": "https://example.org/vocab/capacity"}
ENTITY = {"id": "urn:ngsi-ld:Depot:1", "type": "Depot", "capacity": {"type": "Property", "value": 40}}


def link(url: str) -> str:
    return f'<{url}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"'


def path_of(url: str) -> str:
    return urlsplit(url).path


def add(broker: TestClient, context: object) -> str:
    response = broker.post(CONTEXTS, json={"@context": context})
    assert response.status_code == 201, response.text
    return response.headers["location"]


def details(broker: TestClient, **params: str) -> list[dict]:
    response = broker.get(CONTEXTS, params={"details": "true", **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_add_serve_list_and_delete_a_hosted_context(broker):
    url = add(broker, VOCAB)
    assert url.startswith(f"http://testserver{CONTEXTS}/")
    served = broker.get(path_of(url))
    assert served.status_code == 200 and served.json() == {"@context": VOCAB}
    assert broker.get(CONTEXTS).json() == [url]
    [info] = details(broker)
    assert info["URL"] == url and info["kind"] == "Hosted" and info["numberOfHits"] == 0
    assert path_of(url).endswith("/" + info["localId"]) and info["timestamp"].endswith("Z")
    assert broker.get(path_of(url), params={"details": "true"}).json() == info
    assert broker.delete(path_of(url)).status_code == 204
    assert broker.get(path_of(url)).status_code == 404
    assert broker.get(CONTEXTS).json() == []


def test_entities_resolve_a_hosted_context_offline_and_count_hits(broker):
    url = add(broker, VOCAB)
    created = broker.post(ENTITIES, json=ENTITY, headers={"Link": link(url)})
    assert created.status_code == 201, created.text
    got = broker.get(f"{ENTITIES}/{ENTITY['id']}", headers={"Link": link(url)})
    assert got.json() == ENTITY and got.headers["link"] == link(url)
    assert broker.get(f"{ENTITIES}/{ENTITY['id']}").json()["type"] == VOCAB["Depot"]
    [info] = details(broker, kind="Hosted")
    assert info["numberOfHits"] == 2 and info["lastUsage"] >= info["timestamp"]
    # Once deleted, the context is gone for good: remote fetching is off in these tests.
    broker.delete(path_of(url))
    again = broker.post(ENTITIES, json={**ENTITY, "id": "urn:ngsi-ld:Depot:2"}, headers={"Link": link(url)})
    assert again.status_code == 503 and again.json()["type"] == ERRORS + "LdContextNotAvailable"


def test_resolved_remote_contexts_are_listed_as_cached(broker):
    body = {"id": "urn:ngsi-ld:Building:c", "type": "Building"}
    assert broker.post(ENTITIES, json=body, headers={"Link": link(SDM)}).status_code == 201
    broker.get(ENTITIES, params={"type": "Building"}, headers={"Link": link(SDM)})
    assert broker.get(CONTEXTS, params={"kind": "Cached"}).json() == [SDM]
    assert broker.get(CONTEXTS, params={"kind": "Hosted"}).json() == []
    [info] = details(broker, kind="Cached")
    assert info["URL"] == SDM and info["numberOfHits"] == 2
    local = broker.get(f"{CONTEXTS}/{info['localId']}")
    assert local.status_code == 422 and local.json()["type"] == ERRORS + "OperationNotSupported"
    by_url = broker.get(f"{CONTEXTS}/{quote(SDM, safe='')}", params={"details": "true"})
    assert by_url.status_code == 200 and by_url.json()["localId"] == info["localId"]
    reloaded = broker.delete(f"{CONTEXTS}/{info['localId']}", params={"reload": "true"})
    assert reloaded.status_code == 204  # preloaded: the reload reads the same local copy
    assert broker.delete(f"{CONTEXTS}/{quote(SDM, safe='')}").status_code == 204
    assert broker.get(CONTEXTS).json() == []


def test_inline_contexts_are_implicitly_created(broker):
    body = {**ENTITY, "@context": VOCAB}
    created = broker.post(ENTITIES, content=json.dumps(body), headers={"Content-Type": "application/ld+json"})
    assert created.status_code == 201, created.text
    [info] = details(broker, kind="ImplicitlyCreated")
    assert info["extraInfo"] == {"type": "object"}
    assert broker.get(path_of(info["URL"])).json() == {"@context": VOCAB}
    got = broker.get(f"{ENTITIES}/{ENTITY['id']}", headers={"Link": link(info["URL"])})
    assert got.json() == ENTITY
    # The same inline context again is the same implicitly created one.
    body2 = {**body, "id": "urn:ngsi-ld:Depot:2"}
    broker.post(ENTITIES, content=json.dumps(body2), headers={"Content-Type": "application/ld+json"})
    assert len(broker.get(CONTEXTS, params={"kind": "ImplicitlyCreated"}).json()) == 1


@pytest.mark.parametrize(
    ("content", "content_type", "status", "error"),
    [
        ("[1]", "application/json", 400, "BadRequestData"),
        ('{"name": "x"}', "application/json", 400, "BadRequestData"),
        ('{"@context": {}, "id": "x"}', "application/json", 400, "BadRequestData"),
        ('{"@context": 5}', "application/json", 400, "BadRequestData"),
        ('{"@context": {"a": {"@id": 5}}}', "application/ld+json", 400, "BadRequestData"),
        ("{", "application/json", 400, "InvalidRequest"),
        ('{"@context": {}}', "text/plain", 415, "UnsupportedMediaType"),
    ],
)
def test_add_refuses_what_is_not_a_context(broker, content, content_type, status, error):
    response = broker.post(CONTEXTS, content=content, headers={"Content-Type": content_type})
    assert response.status_code == status, response.text
    assert response.json()["type"] == ERRORS + error
    assert broker.get(CONTEXTS).json() == []


@pytest.mark.parametrize(
    ("method", "target", "params", "status", "error"),
    [
        ("delete", quote(NGSI_LD_CORE_CONTEXT_URL, safe=""), {}, 400, "BadRequestData"),
        ("delete", "unknown", {}, 404, "ResourceNotFound"),
        ("get", "unknown", {}, 404, "ResourceNotFound"),
        ("get", "", {"kind": "Remote"}, 400, "BadRequestData"),
        ("get", "", {"details": "yes"}, 400, "BadRequestData"),
    ],
)
def test_errors(broker, method, target, params, status, error):
    path = f"{CONTEXTS}/{target}" if target else CONTEXTS
    response = getattr(broker, method)(path, params=params)
    assert response.status_code == status, response.text
    assert response.json()["type"] == ERRORS + error


def test_hosted_contexts_cannot_be_reloaded(broker):
    url = add(broker, VOCAB)
    response = broker.delete(path_of(url), params={"reload": "true"})
    assert response.status_code == 400 and response.json()["type"] == ERRORS + "BadRequestData"
    assert broker.get(path_of(url)).status_code == 200


def test_hosted_contexts_survive_restarts_and_are_shared(tmp_path: Path):
    with TestClient(create_app(data_dir=tmp_path, jsonld_remote=False)) as first:
        url = add(first, VOCAB)
        with TestClient(create_app(data_dir=tmp_path, jsonld_remote=False)) as second:
            assert second.post(ENTITIES, json=ENTITY, headers={"Link": link(url)}).status_code == 201
    with TestClient(create_app(data_dir=tmp_path, jsonld_remote=False)) as restarted:
        assert restarted.get(path_of(url)).json() == {"@context": VOCAB}
        assert restarted.get(f"{ENTITIES}/{ENTITY['id']}", headers={"Link": link(url)}).json() == ENTITY
        [info] = details(restarted)
        assert info["numberOfHits"] == 2  # one per process, reported when each stopped or listed
