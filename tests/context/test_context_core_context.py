"""@context resolution (clause 6.3.5), media types (clause 6.3.4) and Smart Data Models round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mims.context.ngsild.context import JSONLD_CONTEXT_REL, link_header_context
from mims.context.ngsild.errors import BadRequestData, NotAcceptable
from mims.context.ngsild.mediatypes import ENTITY_MEDIA_TYPES, negotiate
from ppi_schemas.jsonld import NGSI_LD_CORE_CONTEXT_URL

ENTITIES = "/ngsi-ld/v1/entities"
SMART_DATA_MODELS = Path(__file__).resolve().parents[1] / "ppi_schemas" / "data" / "smart-data-models"
SDM = "https://raw.githubusercontent.com/smart-data-models/dataModel.Building/master/context.jsonld"
SDM_MODELS = {
    "Building": "https://raw.githubusercontent.com/smart-data-models/dataModel.Building/master/context.jsonld",
    "OffStreetParking": "https://raw.githubusercontent.com/smart-data-models/dataModel.Parking/master/context.jsonld",
    "AirQualityObserved": "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld",
}


def link(url: str) -> str:
    return f'<{url}>; rel="{JSONLD_CONTEXT_REL}"; type="application/ld+json"'


ENTITY = {"id": "urn:ngsi-ld:Building:ctx", "type": "Building", "name": {"type": "Property", "value": "A"}}


def test_link_header_context_expands_and_compacts(broker):
    created = broker.post(ENTITIES, json=ENTITY, headers={"Link": link(SDM)})
    assert created.status_code == 201, created.text
    with_link = broker.get(f"{ENTITIES}/{ENTITY['id']}", headers={"Link": link(SDM)})
    assert with_link.json() == ENTITY and with_link.headers["link"] == link(SDM)
    # Under the core context alone the same IRIs show in full.
    plain = broker.get(f"{ENTITIES}/{ENTITY['id']}").json()
    assert plain["type"] == "https://smartdatamodels.org/dataModel.Building/Building"
    assert "https://smartdatamodels.org/name" in plain
    assert broker.get(ENTITIES, params={"type": "Building"}, headers={"Link": link(SDM)}).json() == [ENTITY]
    assert broker.get(ENTITIES, params={"type": "Building"}).json() == []


def test_inline_context_in_ld_json(broker):
    body = {**ENTITY, "@context": [SDM, NGSI_LD_CORE_CONTEXT_URL]}
    response = broker.post(ENTITIES, content=json.dumps(body), headers={"Content-Type": "application/ld+json"})
    assert response.status_code == 201, response.text
    got = broker.get(f"{ENTITIES}/{ENTITY['id']}", headers={"Link": link(SDM), "Accept": "application/ld+json"})
    assert got.json() == {"@context": [SDM, NGSI_LD_CORE_CONTEXT_URL], **ENTITY}


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ({**ENTITY, "@context": SDM}, {"Content-Type": "application/json"}),
        (ENTITY, {"Content-Type": "application/ld+json"}),
        ({**ENTITY, "@context": SDM}, {"Content-Type": "application/ld+json", "Link": link(SDM)}),
        ({**ENTITY, "@context": 5}, {"Content-Type": "application/ld+json"}),
        ({**ENTITY, "@context": {"name": {"@id": 5}}}, {"Content-Type": "application/ld+json"}),
        (ENTITY, {"Content-Type": "application/json", "Link": f"{link(SDM)}, {link(SDM)}"}),
    ],
)
def test_context_rules_are_400(broker, body, headers):
    response = broker.post(ENTITIES, content=json.dumps(body), headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/BadRequestData"


def test_unknown_remote_context_with_remote_off_is_503(broker):
    unknown = "https://example.org/unknown-context.jsonld"
    response = broker.post(ENTITIES, json=ENTITY, headers={"Link": link(unknown)})
    assert response.status_code == 503
    assert response.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/LdContextNotAvailable"
    assert broker.get(ENTITIES, params={"type": "Building"}, headers={"Link": link(unknown)}).status_code == 503


@pytest.mark.parametrize("model", sorted(SDM_MODELS))
def test_smart_data_model_examples_round_trip(broker, model):
    example = json.loads((SMART_DATA_MODELS / model / "example-normalized.jsonld").read_text())
    example.pop("@context", None)
    headers = {"Link": link(SDM_MODELS[model])}
    assert broker.post(ENTITIES, json=example, headers=headers).status_code == 201
    assert broker.get(f"{ENTITIES}/{example['id']}", headers=headers).json() == example


def test_link_header_parsing():
    assert link_header_context(None) is None
    assert link_header_context('<https://x/next>; rel="next"') is None
    assert link_header_context(f'<https://x/n>; rel=next, {link(SDM)}') == SDM
    with pytest.raises(BadRequestData):
        link_header_context("not a link")


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "application/json"),
        ("application/ld+json", "application/ld+json"),
        ("application/*", "application/json"),
        ("application/geo+json, application/json;q=0.5", "application/geo+json"),
        ("text/plain, */*;q=0.1", "application/json"),
    ],
)
def test_accept_negotiation(accept, chosen):
    assert negotiate(accept, ENTITY_MEDIA_TYPES) == chosen


def test_nothing_acceptable():
    with pytest.raises(NotAcceptable):
        negotiate("application/json;q=0, text/html", ENTITY_MEDIA_TYPES)
