"""/.well-known/mim describes the MIM validly; /health and /ready speak health+json."""

from __future__ import annotations

import dataclasses

import ppi_schemas
import pytest

from kit_app import SPEC, client
from mims.kit.service import HEALTH_JSON, create_app
from mims.kit.settings import MimSettings
from mims.kit.wellknown import InvalidMimSpec


def test_description_validates_against_its_ppi(tmp_path):
    response = client(tmp_path).get("/.well-known/mim")
    assert response.status_code == 200
    document = response.json()
    assert ppi_schemas.validate(document, "mim-description@1") == []
    assert document["@context"] == ppi_schemas.get("mim-description@1.0.0").context_url
    assert (document["name"], document["version"]) == ("kit-test", "1.2.3")
    assert document["consumes"] == [{"ppi": "ngsi-ld-entity", "version": "1.0.0"}]
    assert {"ppi": "mim-description", "version": "1.0.0"} in document["produces"]
    assert {"ppi": "problem-details", "version": "1.0.0"} in document["produces"]
    assert document["openapi"] == "http://testserver/openapi.json"
    assert document["health"] == "http://testserver/health"


def test_public_url_wins_over_the_request_host(tmp_path):
    document = client(tmp_path, public_url="https://city.example/kit/").get("/.well-known/mim").json()
    assert document["openapi"] == "https://city.example/kit/openapi.json"
    assert document["ready"] == "https://city.example/kit/ready"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"consumes": ("no-such-ppi@1.0.0",)}, "no-such-ppi"),
        ({"consumes": ("ngsi-ld-entity@1",)}, "exact version"),
        ({"name": "Kit Test"}, "/name"),
        ({"version": "one"}, "/version"),
    ],
)
def test_wrong_spec_fails_when_the_app_is_created(tmp_path, change, message):
    with pytest.raises(InvalidMimSpec, match=message):
        create_app(dataclasses.replace(SPEC, **change), MimSettings(data_dir=tmp_path))


def test_health_is_health_json_pass(tmp_path):
    response = client(tmp_path).get("/health")
    assert response.status_code == 200
    assert response.headers["content-type"] == HEALTH_JSON
    assert response.json() == {
        "status": "pass",
        "version": "1",
        "releaseId": "1.2.3",
        "serviceId": "kit-test",
        "description": "Kit test MIM",
    }


def test_ready_without_storage_is_pass(tmp_path):
    response = client(tmp_path).get("/ready")
    assert (response.status_code, response.json()["status"]) == (200, "pass")
