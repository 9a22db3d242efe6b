"""The refresh_token grant: rotation, reuse detection revoking the family, scope narrowing,
expiry, binding to the client, and RFC 7009 revocation of a refresh token."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime, timedelta

from signin import REDIRECT_URI, add_client, add_user, authorize_params, pkce, sign_in

from mims.identity.user_storage import RefreshToken, SqlRefreshTokenStore, secret_hash


async def tokens_for(identity, registration, scope: str = "openid context:read permit:submit") -> dict:
    """Tokens from a signed-in code flow for ``registration`` (public: PKCE; else Basic)."""
    client = registration.client
    verifier, challenge = pkce()
    code = (await sign_in(identity.http, authorize_params(client.client_id, challenge, scope=scope)))["code"]
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier}
    if registration.client_secret is None:
        data["client_id"] = client.client_id
    response = await identity.http.post("/token", data=data, **auth_of(registration))
    assert response.status_code == 200, response.text
    return response.json()


def auth_of(registration) -> dict:
    if registration.client_secret is None:
        return {}
    return {"auth": (registration.client.client_id, registration.client_secret)}


async def refresh(identity, registration, refresh_token: str, **extra: str):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    if registration.client_secret is None:
        data["client_id"] = registration.client.client_id
    return await identity.http.post("/token", data=data, **auth_of(registration))


async def test_each_refresh_rotates_and_a_used_token_revokes_the_family(identity):
    registration = await add_client(identity)
    await add_user(identity)
    first = await tokens_for(identity, registration)
    chain = [first["refresh_token"]]
    for _ in range(2):
        response = await refresh(identity, registration, chain[-1])
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert body["refresh_token"] not in chain and "id_token" not in body
        chain.append(body["refresh_token"])
    latest_access = body["access_token"]
    assert (
        await identity.http.get("/userinfo", headers={"Authorization": f"Bearer {latest_access}"})
    ).status_code == 200

    reused = await refresh(identity, registration, chain[1])
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    assert (await refresh(identity, registration, chain[-1])).json()["error"] == "invalid_grant"
    assert (
        await identity.http.get("/userinfo", headers={"Authorization": f"Bearer {latest_access}"})
    ).status_code == 401


async def test_scope_may_be_narrowed_but_never_widened(identity):
    registration = await add_client(identity)
    await add_user(identity)
    tokens = await tokens_for(identity, registration, scope="openid context:read")
    widened = await refresh(identity, registration, tokens["refresh_token"], scope="openid context:read permit:submit")
    assert (widened.status_code, widened.json()["error"]) == (400, "invalid_scope")
    # A refused request does not spend the token.
    narrowed = await refresh(identity, registration, tokens["refresh_token"], scope="context:read")
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scope"] == "context:read"
    # The new refresh token carries the narrowed scope.
    again = await refresh(identity, registration, narrowed.json()["refresh_token"], scope="openid context:read")
    assert again.json()["error"] == "invalid_scope"


async def test_a_refresh_token_works_only_for_its_own_client(identity):
    registration = await add_client(identity)
    other = await add_client(identity, name="Other portal")
    await add_user(identity)
    tokens = await tokens_for(identity, registration)
    stolen = await refresh(identity, other, tokens["refresh_token"])
    assert (stolen.status_code, stolen.json()["error"]) == (400, "invalid_grant")
    assert (await refresh(identity, registration, tokens["refresh_token"])).status_code == 200
    assert (await refresh(identity, registration, "not-a-refresh-token")).json()["error"] == "invalid_grant"


async def test_only_clients_registered_for_refresh_tokens_get_them(identity):
    registration = await add_client(identity, grants=("authorization_code",))
    await add_user(identity)
    assert "refresh_token" not in await tokens_for(identity, registration)


async def test_an_expired_refresh_token_is_refused(identity):
    registration = await add_client(identity)
    user = await add_user(identity)
    value = secrets.token_urlsafe(32)
    past = datetime.now(UTC) - timedelta(days=31)
    await SqlRefreshTokenStore(identity.app.state.engine).add(
        RefreshToken(
            token_hash=secret_hash(value),
            family_id="family",
            parent_hash=None,
            client_id=registration.client.client_id,
            user_id=user.user_id,
            scope="context:read",
            auth_time=past,
            issued_at=past,
            expires_at=past + timedelta(days=30),
        )
    )
    response = await refresh(identity, registration, value)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_grant")


async def test_the_refresh_token_lifetime_is_a_setting_and_only_a_hash_is_stored(start):
    identity = await start(refresh_token_lifetime=3600)
    registration = await add_client(identity)
    await add_user(identity)
    tokens = await tokens_for(identity, registration)
    record = await SqlRefreshTokenStore(identity.app.state.engine).get(secret_hash(tokens["refresh_token"]))
    assert record is not None and record.token_hash != tokens["refresh_token"]
    lifetime = record.expires_at - record.issued_at
    assert lifetime == timedelta(seconds=3600)


async def test_revoking_a_refresh_token_revokes_its_family(identity):
    registration = await add_client(identity, public=False)
    await add_user(identity)
    tokens = await tokens_for(identity, registration)
    auth = (registration.client.client_id, registration.client_secret)
    other = await add_client(identity, public=False, name="Other portal")
    # Another client's attempt is answered 200 and changes nothing (RFC 7009 2.2).
    foreign = await identity.http.post(
        "/revoke", data={"token": tokens["refresh_token"]}, auth=(other.client.client_id, other.client_secret)
    )
    assert foreign.status_code == 200
    rotated = (await refresh(identity, registration, tokens["refresh_token"])).json()
    assert (await identity.http.post("/revoke", data={"token": rotated["refresh_token"]}, auth=auth)).status_code == 200
    assert (await refresh(identity, registration, rotated["refresh_token"])).json()["error"] == "invalid_grant"
    denied = await identity.http.get("/userinfo", headers={"Authorization": f"Bearer {rotated['access_token']}"})
    assert denied.status_code == 401


async def test_a_refresh_token_is_introspected_only_by_its_own_client_and_only_while_unused(identity):
    registration = await add_client(identity, public=False)
    await add_user(identity)
    tokens = await tokens_for(identity, registration)
    auth = (registration.client.client_id, registration.client_secret)
    other = await add_client(identity, public=False, name="Other portal")

    own = (await identity.http.post("/introspect", data={"token": tokens["refresh_token"]}, auth=auth)).json()
    assert own["active"] is True
    assert own["client_id"] == registration.client.client_id and own["sub"] == tokens_sub(tokens)
    assert set(own["scope"].split()) == {"openid", "context:read", "permit:submit"} and own["exp"] > own["iat"]
    assert "token_type" not in own  # not a bearer access token
    foreign = await identity.http.post(
        "/introspect", data={"token": tokens["refresh_token"]}, auth=(other.client.client_id, other.client_secret)
    )
    assert foreign.json() == {"active": False}
    # The access token stays introspectable by any authenticated client (resource servers).
    access = await identity.http.post(
        "/introspect", data={"token": tokens["access_token"]}, auth=(other.client.client_id, other.client_secret)
    )
    assert access.json()["active"] is True and access.json()["token_type"] == "Bearer"

    assert (await refresh(identity, registration, tokens["refresh_token"])).status_code == 200
    used = await identity.http.post("/introspect", data={"token": tokens["refresh_token"]}, auth=auth)
    assert used.json() == {"active": False}


def tokens_sub(tokens: dict) -> str:
    """The ``sub`` of the access token in a token response (the signed-in user's id)."""
    payload = tokens["access_token"].split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["sub"]


async def test_a_public_client_revokes_its_refresh_token_with_its_client_id(identity):
    registration = await add_client(identity, public=True)
    await add_user(identity)
    tokens = await tokens_for(identity, registration)
    client_id = registration.client.client_id

    revoked = await identity.http.post("/revoke", data={"token": tokens["refresh_token"], "client_id": client_id})

    assert revoked.status_code == 200
    assert (await refresh(identity, registration, tokens["refresh_token"])).json()["error"] == "invalid_grant"
    # Without its client_id the request identifies no client at all.
    anonymous = await identity.http.post("/revoke", data={"token": tokens["access_token"]})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
