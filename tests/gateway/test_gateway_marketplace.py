"""The marketplace behind the gateway: the catalogue is public, publishing needs its scope and a
body valid against the dcat-dataset PPI (over HTTP, real servers)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

import ppi_schemas
from gateway.service import create_app as create_gateway
from mims.kit.auth import TokenVerifier
from mims.marketplace.service import create_app as create_marketplace
from tests.serving import free_port, served

ISSUER = "http://127.0.0.1:9/rotterdam"
KEY = ECKey.generate_key("P-256", {"kid": "marketplace-1"})


def bearer(scope: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "gateway", "sub": "paula", "client_id": "publisher", "iat": now,
              "exp": now + 300, "jti": uuid.uuid4().hex, "scope": scope}
    token = jwt.encode({"alg": "ES256", "kid": KEY.kid, "typ": "at+jwt"}, claims, KEY, algorithms=["ES256"])
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def gateway_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("marketplace")
    gateway_port = free_port()
    with ExitStack() as stack:
        marketplace = stack.enter_context(served(create_marketplace(
            data_dir=folder / "marketplace", gateway_url=f"http://127.0.0.1:{gateway_port}"), free_port()))
        app = create_gateway(data_dir=folder / "gateway", marketplace_url=marketplace, issuers=[ISSUER],
                             jwks_url=ISSUER + "/jwks", rate_limit="off")
        app.state.token_verifier = TokenVerifier(jwks=KeySet([KEY]).as_dict(), issuers=[ISSUER], audience=None)
        yield stack.enter_context(served(app, gateway_port))


def test_the_catalogue_is_read_without_a_token(gateway_url: str) -> None:
    catalogue = httpx.get(gateway_url + "/marketplace/catalog", timeout=10)
    assert catalogue.status_code == 200, catalogue.text
    assert "dcat:Catalog" in catalogue.text or "Catalog" in catalogue.json().get("@type", "")


def test_publishing_needs_the_publish_scope_and_a_valid_dataset(gateway_url: str) -> None:
    document = ppi_schemas.get("dcat-dataset@1").examples_valid[0].payload
    url = gateway_url + "/marketplace/datasets"
    assert httpx.post(url, json=document, timeout=10).status_code == 401
    assert httpx.post(url, json=document, headers=bearer("context:read"), timeout=10).status_code == 403
    broken = {key: value for key, value in document.items() if key != "title"}
    refused = httpx.post(url, json=broken, headers=bearer("marketplace:publish"), timeout=10)
    assert refused.status_code == 400 and "title" in refused.text
    created = httpx.post(url, json=document, headers=bearer("marketplace:publish"), timeout=10)
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    assert location.startswith(gateway_url + "/marketplace/datasets/"), location
    assert httpx.get(location, timeout=10).status_code == 200
