"""OpenID Connect: the discovery document, ID tokens in the current key's algorithm, and
/userinfo with its RFC 6750 refusals."""

from __future__ import annotations

import base64
import hashlib

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from signin import REDIRECT_URI, add_client, add_user, authorize_params, pkce, sign_in

from ppi_schemas import validate

ISSUER = "http://127.0.0.1:8001"
PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")


async def code_flow(identity, client_id: str, scope: str, **extra: str) -> dict:
    verifier, challenge = pkce()
    code = (await sign_in(identity.http, authorize_params(client_id, challenge, scope=scope, **extra)))["code"]
    response = await identity.http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("path", PATHS)
async def test_discovery_advertises_the_sign_in_flow_and_conforms_to_the_ppi(identity, path):
    document = (await identity.http.get(path)).json()
    assert document["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert document["userinfo_endpoint"] == f"{ISSUER}/userinfo"
    assert document["response_types_supported"] == ["code"]
    assert document["response_modes_supported"] == ["query"]
    assert {"client_credentials", "authorization_code", "refresh_token"} <= set(document["grant_types_supported"])
    assert "implicit" not in document["grant_types_supported"] and "password" not in document["grant_types_supported"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["subject_types_supported"] == ["public"]
    assert document["id_token_signing_alg_values_supported"] == ["ES256"]
    assert document["authorization_response_iss_parameter_supported"] is True
    assert document["ui_locales_supported"] == ["nl", "en"]
    assert document["scopes_supported"][-3:] == ["openid", "profile", "email"]
    assert {"sub", "name", "preferred_username", "email", "roles", "nonce", "at_hash"} <= set(
        document["claims_supported"]
    )
    assert "none" in document["token_endpoint_auth_methods_supported"]
    assert validate(document, "oauth-server-metadata@1") == []
    assert (await identity.http.get(document["userinfo_endpoint"])).status_code == 401


async def test_id_tokens_follow_the_signing_key_algorithm(start):
    identity = await start(signing_alg="EdDSA")
    document = (await identity.http.get(PATHS[1])).json()
    assert document["id_token_signing_alg_values_supported"] == ["EdDSA"]
    client = (await add_client(identity)).client
    await add_user(identity)
    tokens = await code_flow(identity, client.client_id, "openid email", nonce="abc")
    jwks = KeySet.import_key_set((await identity.http.get("/jwks")).json())
    id_token = jwt.decode(tokens["id_token"], jwks, algorithms=["EdDSA"])
    assert id_token.header["alg"] == "EdDSA"
    digest = hashlib.sha512(tokens["access_token"].encode()).digest()
    assert id_token.claims["at_hash"] == base64.urlsafe_b64encode(digest[:32]).rstrip(b"=").decode()
    assert id_token.claims["email"] == "anna@example.org" and "name" not in id_token.claims


async def test_no_id_token_without_the_openid_scope(identity):
    client = (await add_client(identity)).client
    await add_user(identity)
    tokens = await code_flow(identity, client.client_id, "context:read")
    assert "id_token" not in tokens and tokens["scope"] == "context:read"


async def test_a_replayed_nonce_is_refused(identity):
    client = (await add_client(identity)).client
    await add_user(identity)
    await code_flow(identity, client.client_id, "openid", nonce="once")
    _, challenge = pkce()
    response = await identity.http.get(
        "/authorize", params=authorize_params(client.client_id, challenge, scope="openid", nonce="once")
    )
    assert response.status_code == 302 and "error=invalid_request" in response.headers["location"]


async def test_userinfo_releases_claims_by_scope_by_get_and_post(identity):
    client = (await add_client(identity)).client
    user = await add_user(identity)
    tokens = await code_flow(identity, client.client_id, "openid email")
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    for response in (
        await identity.http.get("/userinfo", headers=headers),
        await identity.http.post("/userinfo", headers=headers),
    ):
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert response.json() == {"sub": user.user_id, "email": "anna@example.org"}


async def test_userinfo_refusals_are_rfc_6750(identity, issue):
    missing = await identity.http.get("/userinfo")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    garbage = await identity.http.get("/userinfo", headers={"Authorization": "Bearer not.a.token"})
    assert garbage.status_code == 401 and 'error="invalid_token"' in garbage.headers["www-authenticate"]

    client = (await add_client(identity)).client
    await add_user(identity)
    tokens = await code_flow(identity, client.client_id, "context:read")
    without_openid = await identity.http.get("/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert without_openid.status_code == 403
    assert 'error="insufficient_scope"' in without_openid.headers["www-authenticate"]

    # A client's own token names no user.
    machine = await identity.register(["context:read"])
    token = await issue(identity, machine, scope="context:read")
    assert (await identity.http.get("/userinfo", headers={"Authorization": f"Bearer {token}"})).status_code == 403


async def test_client_credentials_never_carry_openid_connect_scopes(identity):
    registration = await add_client(identity, public=False, grants=("client_credentials", "authorization_code"))
    auth = (registration.client.client_id, registration.client_secret)
    mixed = await identity.http.post(
        "/token", data={"grant_type": "client_credentials", "scope": "openid context:read"}, auth=auth
    )
    assert mixed.status_code == 200 and mixed.json()["scope"] == "context:read"
    only = await identity.http.post(
        "/token", data={"grant_type": "client_credentials", "scope": "openid profile"}, auth=auth
    )
    assert (only.status_code, only.json()["error"]) == (400, "invalid_scope")
