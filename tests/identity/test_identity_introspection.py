"""RFC 7662 /introspect: only authenticated clients may ask; our valid access tokens are active
with their claims; anything else is exactly {"active": false}."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from joserfc import jwt

from mims.identity.keys import SigningKey, generate_signing_key
from mims.identity.storage import SqlSigningKeyStore

ISSUER = "http://127.0.0.1:8001"  # the default setting
INACTIVE = {"active": False}


async def introspect(identity, caller, token: str, **extra: str):
    return await identity.http.post(
        "/introspect", data={"token": token, **extra}, auth=(caller.client.client_id, caller.client_secret)
    )


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def mint(key: SigningKey, claims: dict, **header: str) -> str:
    """A token signed with ``key`` as the server would, with ``claims`` and ``header`` as given."""
    return jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": key.kid, **header}, claims, key.jwk())


async def our_key(identity) -> SigningKey:
    return (await SqlSigningKeyStore(identity.app.state.engine).active())[0]


def valid_claims(client_id: str, **changes) -> dict:
    now = int(time.time())
    claims = {
        "iss": ISSUER, "exp": now + 300, "iat": now, "aud": "urn:oup:platform", "sub": client_id,
        "client_id": client_id, "jti": f"jti-{now}-{client_id}", "scope": "context:read",
    }
    return {**claims, **changes}


async def test_active_token_has_its_claims(identity, issue):
    owner = await identity.register(["context:read", "context:write"])
    resource_server = await identity.register(["context:read"])
    token = await issue(identity, owner, scope="context:read context:write", resource="https://context.example")
    response = await introspect(identity, resource_server, token)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    claims = claims_of(token)
    client_id = owner.client.client_id
    assert response.json() == {
        "active": True,
        "scope": "context:read context:write",
        "client_id": client_id,
        "sub": client_id,
        "aud": "https://context.example",
        "iss": ISSUER,
        "exp": claims["exp"],
        "iat": claims["iat"],
        "jti": claims["jti"],
        "token_type": "Bearer",
    }


async def test_client_secret_post_caller(identity, issue):
    caller = await identity.register(["context:read"], method="client_secret_post")
    token = await issue(identity, caller)
    response = await identity.http.post(
        "/introspect",
        data={"token": token, "client_id": caller.client.client_id, "client_secret": caller.client_secret},
    )
    assert response.status_code == 200, response.text
    assert response.json()["active"] is True


@pytest.mark.parametrize("credentials", ["none", "wrong secret", "unknown client", "wrong method"])
async def test_caller_must_authenticate(identity, issue, credentials):
    caller = await identity.register(["context:read"])
    token = await issue(identity, caller)
    auth = {
        "none": None,
        "wrong secret": (caller.client.client_id, "not the secret"),
        "unknown client": ("nobody", caller.client_secret),
        "wrong method": None,
    }[credentials]
    data = {"token": token}
    if credentials == "wrong method":  # registered for client_secret_basic, tries client_secret_post
        data |= {"client_id": caller.client.client_id, "client_secret": caller.client_secret}
    response = await identity.http.post("/introspect", data=data, auth=auth)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert "active" not in response.json()


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c", "ÿ.ÿ.ÿ", "eyJhbGciOiJub25lIn0.e30.", "x" * 4000])
async def test_garbage_is_inactive(identity, garbage):
    caller = await identity.register(["context:read"])
    response = await introspect(identity, caller, garbage)
    assert (response.status_code, response.json()) == (200, INACTIVE)


async def test_expired_token_is_inactive(identity):
    caller = await identity.register(["context:read"])
    client_id = caller.client.client_id
    now = int(time.time())
    key = await our_key(identity)
    assert (await introspect(identity, caller, mint(key, valid_claims(client_id)))).json()["active"] is True  # control
    expired = mint(key, valid_claims(client_id, iat=now - 600, exp=now - 1))
    assert (await introspect(identity, caller, expired)).json() == INACTIVE


async def test_other_issuer_is_inactive(identity):
    caller = await identity.register(["context:read"])
    token = mint(await our_key(identity), valid_claims(caller.client.client_id, iss="https://id.den-haag.example"))
    assert (await introspect(identity, caller, token)).json() == INACTIVE


async def test_issuer_must_match_exactly(identity):
    caller = await identity.register(["context:read"])
    token = mint(await our_key(identity), valid_claims(caller.client.client_id, iss=ISSUER + "/"))
    assert (await introspect(identity, caller, token)).json() == INACTIVE


@pytest.mark.parametrize("kid", ["its own", "ours"])
async def test_token_signed_by_another_key_is_inactive(identity, kid):
    caller = await identity.register(["context:read"])
    stranger = generate_signing_key()
    if kid == "ours":
        stranger = replace(stranger, kid=(await our_key(identity)).kid)
    token = mint(stranger, valid_claims(caller.client.client_id))
    assert (await introspect(identity, caller, token)).json() == INACTIVE


async def test_tampered_payload_is_inactive(identity, issue):
    caller = await identity.register(["context:read", "admin"])
    token = await issue(identity, caller, scope="context:read")
    header, _, signature = token.split(".")
    claims = {**claims_of(token), "scope": "context:read admin"}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert (await introspect(identity, caller, token)).json()["active"] is True
    assert (await introspect(identity, caller, f"{header}.{payload}.{signature}")).json() == INACTIVE


@pytest.mark.parametrize("typ", [None, "JWT"])
async def test_token_not_typed_at_jwt_is_inactive(identity, typ):
    caller = await identity.register(["context:read"])
    key = await our_key(identity)
    claims = valid_claims(caller.client.client_id)
    header = {"alg": "ES256", "kid": key.kid} | ({"typ": typ} if typ else {})
    token = jwt.encode(header, claims, key.jwk())
    assert (await introspect(identity, caller, token)).json() == INACTIVE


async def test_every_active_key_verifies_and_retired_keys_do_not(identity):
    caller = await identity.register(["context:read"])
    store = SqlSigningKeyStore(identity.app.state.engine)
    second = generate_signing_key()
    retired = replace(generate_signing_key(), retired_at=datetime.now(UTC))
    await store.add(second)
    await store.add(retired)
    claims = valid_claims(caller.client.client_id)
    assert (await introspect(identity, caller, mint(second, claims))).json()["active"] is True
    assert (await introspect(identity, caller, mint(retired, claims))).json() == INACTIVE


async def test_hint_is_only_a_hint(identity, issue):
    caller = await identity.register(["context:read"])
    token = await issue(identity, caller)
    for hint in ("access_token", "refresh_token", "no_such_type"):
        assert (await introspect(identity, caller, token, token_type_hint=hint)).json()["active"] is True


async def test_missing_or_repeated_token_is_invalid_request(identity, issue):
    caller = await identity.register(["context:read"])
    auth = (caller.client.client_id, caller.client_secret)
    missing = await identity.http.post("/introspect", data={}, auth=auth)
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")
    token = await issue(identity, caller)
    repeated = await identity.http.post("/introspect", content=f"token={token}&token={token}",
                                        headers={"content-type": "application/x-www-form-urlencoded"}, auth=auth)
    assert (repeated.status_code, repeated.json()["error"]) == (400, "invalid_request")
    wrong_type = await identity.http.post("/introspect", json={"token": token}, auth=auth)
    assert (wrong_type.status_code, wrong_type.json()["error"]) == (400, "invalid_request")


@pytest.mark.parametrize("path", ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"])
async def test_metadata_advertises_introspection_and_revocation(start, path):
    identity = await start(issuer="https://id.rotterdam.example/oauth")
    document = (await identity.http.get(path)).json()
    methods = ["client_secret_basic", "client_secret_post"]
    assert document["introspection_endpoint"] == "https://id.rotterdam.example/oauth/introspect"
    assert document["revocation_endpoint"] == "https://id.rotterdam.example/oauth/revoke"
    assert document["introspection_endpoint_auth_methods_supported"] == methods
    assert document["revocation_endpoint_auth_methods_supported"] == [*methods, "none"]  # public clients too


@pytest.mark.parametrize("endpoint", ["introspection_endpoint", "revocation_endpoint"])
async def test_advertised_endpoints_answer(identity, endpoint):
    document = (await identity.http.get("/.well-known/oauth-authorization-server")).json()
    response = await identity.http.post(document[endpoint], data={"token": "x"})
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
