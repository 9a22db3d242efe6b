"""With auth=required, echo's routes demand bearer tokens holding echo:read / echo:write."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet
from starlette.testclient import TestClient

from mims.echo.service import create_app
from mims.kit.auth import TokenVerifier

ISSUER = "https://identity.example"
KEY = ECKey.generate_key("P-256", {"kid": "k1"})
ENTITY = {"id": "urn:ngsi-ld:Building:auth-1", "type": "Building"}


def token(scope: str) -> dict[str, str]:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "echo", "sub": "alice", "client_id": "tests", "iat": now, "exp": now + 60,
              "jti": uuid.uuid4().hex, "scope": scope}
    encoded = jwt.encode({"alg": "ES256", "kid": "k1", "typ": "at+jwt"}, claims, KEY, algorithms=["ES256"])
    return {"Authorization": f"Bearer {encoded}"}


@pytest.fixture
def http(tmp_path):
    app = create_app(data_dir=tmp_path, auth="required", jwks_url=f"{ISSUER}/jwks", issuers=[ISSUER], audience="echo")
    assert isinstance(app.state.token_verifier, TokenVerifier)
    # Same verifier, but with the key set given directly instead of fetched from the issuer.
    asyncio.run(app.state.token_verifier.aclose())
    app.state.token_verifier = TokenVerifier(jwks=KeySet([KEY]).as_dict(), issuers=[ISSUER], audience="echo")
    with TestClient(app) as client:
        yield client


def test_no_token_is_401_with_a_bearer_challenge(http):
    response = http.post("/echo/messages", json=ENTITY)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith('Bearer realm="oup"')
    assert response.json()["requestId"] == response.headers["x-request-id"]


def test_read_scope_reads_but_does_not_write(http):
    reader = token("echo:read")
    assert http.get("/echo/messages", headers=reader).status_code == 200
    response = http.post("/echo/messages", json=ENTITY, headers=reader)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


def test_write_scope_writes(http):
    created = http.post("/echo/messages", json=ENTITY, headers=token("echo:write echo:read"))
    assert created.status_code == 201
    assert http.get(created.headers["location"], headers=token("echo:read")).status_code == 200
    assert http.get(created.headers["location"]).status_code == 401


def test_health_and_description_stay_open(http):
    assert http.get("/health").status_code == 200
    assert http.get("/.well-known/mim").status_code == 200
