"""A city's data marketplace from end to end, over HTTP through the gateway, with real tokens.

A publisher publishes a dataset of Building entities and offers it for three uses; a developer whose
token cannot read the context finds it, negotiates (Dataspace Protocol), and once the agreement is
finalized reads the buildings through the gateway on the access grant: only those the dataset opens.
The gateway meters each use, the fourth is refused, and a terminated agreement is refused too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.service import create_app as create_gateway
from mims.context.service import create_app as create_context
from mims.identity.clients import register_client
from mims.identity.service import SPEC as IDENTITY
from mims.identity.service import create_app as create_identity
from mims.identity.settings import PLATFORM_SCOPES
from mims.identity.storage import SqlClientStore
from mims.kit import storage
from mims.marketplace.service import create_app as create_marketplace
from tests.serving import free_port, served

BUILDINGS = [("b1", "residential"), ("b2", "residential"), ("b3", "residential"), ("b4", "commercial")]
DATASET: dict[str, Any] = {
    "title": {"en": "Homes of Delfshaven", "nl": "Woningen in Delfshaven"},
    "description": {"en": "Residential buildings of the digital twin, with their height."},
    "publisher": {"name": "Gemeente Rotterdam", "url": "https://www.rotterdam.nl"},
    "contactPoint": {"name": "Team Open Data", "email": "opendata@rotterdam.nl"},
    "keywords": ["woningen", "buildings"],
    "themes": ["http://publications.europa.eu/resource/authority/data-theme/REGI"],
    "license": "https://creativecommons.org/licenses/by/4.0/",
    "digitalTwin": {"entityTypes": ["Building"], "q": 'category=="residential"', "ppi": "sdm-building@1"},
}


async def _clients(database_url: str) -> dict[str, str]:
    """The publisher's and the developer's client secrets, registered in the identity database."""
    engine = storage.create_engine(database_url)
    try:
        await storage.migrate(engine, IDENTITY.name, IDENTITY.migrations)
        secrets = {}
        for client_id, scopes in (("publisher", ["marketplace:publish"]), ("developer", ["marketplace:consume"])):
            registration = await register_client(
                SqlClientStore(engine), name=client_id, scopes=scopes, platform_scopes=PLATFORM_SCOPES,
                client_id=client_id,
            )
            assert registration.client_secret is not None
            secrets[client_id] = registration.client_secret
        return secrets
    finally:
        await engine.dispose()


class City:
    def __init__(self, gateway: str, context: str, secrets: dict[str, str]) -> None:
        self.gateway = gateway
        self.context = context
        self.secrets = secrets
        self.http = httpx.Client(base_url=gateway, timeout=20)

    def bearer(self, client_id: str) -> dict[str, str]:
        answer = self.http.post("/identity/token", data={"grant_type": "client_credentials"},
                                auth=(client_id, self.secrets[client_id]))
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture
def city(tmp_path: Path) -> Iterator[City]:
    identity_database = storage.default_database_url("identity", tmp_path / "identity")
    secrets = asyncio.run(_clients(identity_database))
    identity_port, gateway_port = free_port(), free_port()
    identity_url, gateway_url = f"http://127.0.0.1:{identity_port}", f"http://127.0.0.1:{gateway_port}"
    with ExitStack() as stack:
        stack.enter_context(served(create_identity(
            data_dir=tmp_path / "identity", database_url=identity_database, issuer=identity_url), identity_port))
        context_url = stack.enter_context(served(
            create_context(data_dir=tmp_path / "context", jsonld_remote=False), free_port()))
        marketplace_url = stack.enter_context(served(create_marketplace(
            data_dir=tmp_path / "marketplace", gateway_url=gateway_url, public_url=gateway_url + "/marketplace"),
            free_port()))
        stack.enter_context(served(create_gateway(
            data_dir=tmp_path / "gateway", identity_url=identity_url, context_url=context_url,
            marketplace_url=marketplace_url, rate_limit=None, grants_cache_ttl=0, usage_flush_interval=0.1,
        ), gateway_port))
        yield City(gateway_url, context_url, secrets)


def _seed_buildings(city: City) -> None:
    for name, category in BUILDINGS:
        entity = {"id": f"urn:ngsi-ld:Building:{name}", "type": "Building",
                  "category": {"type": "Property", "value": category},
                  "height": {"type": "Property", "value": 12.5, "unitCode": "MTR"}}
        created = httpx.post(city.context + "/ngsi-ld/v1/entities", json=entity, timeout=10)
        assert created.status_code == 201, created.text


def _usage(city: City, developer: dict[str, str], agreement: str, calls: int) -> dict[str, Any]:
    """The developer's usage of ``agreement`` once ``calls`` calls are metered (the gateway reports
    in the background)."""
    deadline = time.monotonic() + 10
    while True:
        report = city.http.get("/marketplace/usage", params={"agreement": agreement}, headers=developer)
        assert report.status_code == 200, report.text
        rows = [row for row in report.json()["usage"] if row["agreement"] == agreement]
        if rows and rows[0]["calls"] >= calls:
            return rows[0]
        assert time.monotonic() < deadline, f"usage not metered in time: {report.json()}"
        time.sleep(0.1)


def _negotiate(city: City, offer_uid: str, developer: dict[str, str], publisher: dict[str, str]) -> dict[str, Any]:
    """REQUESTED by the developer, AGREED by the publisher, VERIFIED, FINALIZED: the negotiation."""
    requested = city.http.post("/marketplace/negotiations/request", json={"offer": offer_uid}, headers=developer)
    assert requested.status_code == 201, requested.text
    assert requested.json()["state"] == "REQUESTED" and requested.json()["grant"] is None
    pid = requested.json()["providerPid"]
    early = city.http.post(f"/marketplace/negotiations/{pid}/events", json={"eventType": "FINALIZED"}, headers=publisher)
    assert early.status_code == 400 and "REQUESTED" in early.json()["detail"]
    by_consumer = city.http.post(f"/marketplace/negotiations/{pid}/agreement", headers=developer)
    assert by_consumer.status_code == 403, by_consumer.text
    for path, party, state in (("agreement", publisher, "AGREED"), ("agreement/verification", developer, "VERIFIED")):
        moved = city.http.post(f"/marketplace/negotiations/{pid}/{path}", json={}, headers=party)
        assert moved.status_code == 200 and moved.json()["state"] == state, moved.text
    finalized = city.http.post(f"/marketplace/negotiations/{pid}/events", json={"eventType": "FINALIZED"},
                               headers=publisher)
    assert finalized.status_code == 200 and finalized.json()["state"] == "FINALIZED", finalized.text
    assert finalized.json()["agreement"] and finalized.json()["grant"]
    return finalized.json()


def test_publish_find_negotiate_use_meter_exhaust_terminate(city: City) -> None:
    _seed_buildings(city)
    publisher, developer = city.bearer("publisher"), city.bearer("developer")
    query = {"type": "Building"}

    published = city.http.post("/marketplace/datasets", json=DATASET, headers=publisher)
    assert published.status_code == 201, published.text
    dataset_url = published.headers["location"]
    dataset_iri = published.json()["@id"]
    dataset_id = dataset_url.rstrip("/").rsplit("/", 1)[-1]
    counted = {
        "@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Offer",
        "uid": "urn:uuid:5e0c6a1e-2d6f-4c1b-9d0a-3f1e2b4c5d60", "assigner": "https://www.rotterdam.nl",
        "target": dataset_iri,
        "permission": [{"action": "use", "constraint": [{"leftOperand": "count", "operator": "lteq", "rightOperand": 3}]}],
    }
    offered = city.http.post(f"/marketplace/datasets/{dataset_id}/offers", json=counted, headers=publisher)
    assert offered.status_code == 201, offered.text

    found = city.http.get("/marketplace/datasets", params={"q": "woningen Delfshaven"})
    assert found.status_code == 200, found.text
    assert dataset_id in found.text

    refused = city.http.get("/ngsi-ld/v1/entities", params=query, headers=developer)
    assert refused.status_code == 403, "no agreement yet: the developer's token cannot read the context"

    negotiation = _negotiate(city, counted["uid"], developer, publisher)
    agreement = negotiation["agreement"]
    read = city.http.get("/ngsi-ld/v1/entities", params=query, headers=developer)
    assert read.status_code == 200, read.text
    assert sorted(e["id"] for e in read.json()) == [f"urn:ngsi-ld:Building:b{i}" for i in (1, 2, 3)], \
        "the grant opens the residential buildings only"

    first = _usage(city, developer, agreement, calls=1)
    assert first["calls"] == 1 and first["entities"] == 3 and first["bytes"] == len(read.content)

    for _ in range(2):
        assert city.http.get("/ngsi-ld/v1/entities", params=query, headers=developer).status_code == 200
    exhausted = city.http.get("/ngsi-ld/v1/entities", params=query, headers=developer)
    assert exhausted.status_code == 403 and "exhausted" in exhausted.json()["detail"], exhausted.text
    assert _usage(city, developer, agreement, calls=3)["calls"] == 3
    csv = city.http.get("/marketplace/usage", params={"agreement": agreement}, headers={**developer, "Accept": "text/csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert agreement in csv.text

    # A second agreement on an open offer: granted at once, used, then terminated and refused.
    open_offer = {**counted, "uid": "urn:uuid:8b2f1c3d-4e5a-4b6c-9d7e-0f1a2b3c4d5e", "permission": [{"action": "use"}]}
    assert city.http.post(f"/marketplace/datasets/{dataset_id}/offers", json=open_offer, headers=publisher).status_code == 201
    automatic = city.http.post("/marketplace/negotiations/request", json={"offer": open_offer["uid"]}, headers=developer)
    assert automatic.status_code == 201 and automatic.json()["state"] == "FINALIZED", automatic.text
    assert city.http.get("/ngsi-ld/v1/entities", params=query, headers=developer).status_code == 200
    second = automatic.json()["agreement"]
    terminated = city.http.post(f"/marketplace/agreements/{second}/termination", json={}, headers=developer)
    assert terminated.status_code == 200, terminated.text
    after = city.http.get("/ngsi-ld/v1/entities", params=query, headers=developer)
    assert after.status_code == 403 and second not in after.text, after.text
    assert city.http.get("/marketplace/agreements/" + second, headers=developer).json()["status"] == "terminated"
