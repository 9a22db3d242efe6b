"""Catalogue fixtures: the PPI's own valid examples as publishers' documents, storage on both
engines, and apps with and without token checks."""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.testclient import TestClient

import ppi_schemas
from mims.kit import storage
from mims.kit.auth import TokenVerifier
from mims.marketplace.service import SPEC, create_app

PUBLIC_URL = "https://data.rotterdam.example/marketplace"
GATEWAY_URL = "https://api.rotterdam.example"
ISSUER = "https://identity.rotterdam.example"


@pytest.fixture
def example() -> Callable[[str], dict[str, Any]]:
    """A fresh copy of one valid ``dcat-dataset`` example, by file name without ``.json``."""
    examples = {e.name: e.payload for e in ppi_schemas.get("dcat-dataset@1").examples_valid}

    def pick(name: str) -> dict[str, Any]:
        return copy.deepcopy(examples[name])

    return pick


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = storage.create_engine(database_url)
    await storage.migrate(engine, SPEC.name, SPEC.migrations)
    yield engine
    await engine.dispose()


@pytest.fixture
def http(tmp_path: Any, database_url: str) -> Iterator[TestClient]:
    """The marketplace without token checks, on each engine, minting IRIs from a fixed public URL."""
    app = create_app(data_dir=tmp_path, database_url=database_url, public_url=PUBLIC_URL, gateway_url=GATEWAY_URL)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def signing_key() -> ECKey:
    return ECKey.generate_key("P-256", {"kid": "k1"})


@pytest.fixture
def token(signing_key: ECKey) -> Callable[[str], dict[str, str]]:
    """Authorization headers with a fresh access token holding ``scope``."""

    def headers(scope: str) -> dict[str, str]:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": "marketplace", "sub": "publisher", "client_id": "tests", "iat": now,
                  "exp": now + 60, "jti": uuid.uuid4().hex, "scope": scope}
        header = {"alg": "ES256", "kid": "k1", "typ": "at+jwt"}
        return {"Authorization": f"Bearer {jwt.encode(header, claims, signing_key, algorithms=['ES256'])}"}

    return headers


@pytest.fixture
def secured(tmp_path: Any, signing_key: ECKey) -> Iterator[TestClient]:
    """The marketplace with auth=required, trusting the test signing key."""
    app = create_app(data_dir=tmp_path, public_url=PUBLIC_URL, auth="required", jwks_url=f"{ISSUER}/jwks",
                     issuers=[ISSUER], audience="marketplace")
    asyncio.run(app.state.token_verifier.aclose())
    app.state.token_verifier = TokenVerifier(
        jwks=KeySet([signing_key]).as_dict(), issuers=[ISSUER], audience="marketplace"
    )
    with TestClient(app) as client:
        yield client
