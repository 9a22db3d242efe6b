"""RFC 7009 /revoke: a client revokes its own access tokens, which introspection then reports
inactive; anything else is answered 200 without effect; revocations are kept until expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mims.identity.revocations import SqlRevocationStore

INACTIVE = {"active": False}


async def revoke(identity, caller, token: str, **extra: str):
    return await identity.http.post(
        "/revoke", data={"token": token, **extra}, auth=(caller.client.client_id, caller.client_secret)
    )


async def is_active(identity, token: str) -> bool:
    caller = await identity.register(["context:read"])
    response = await identity.http.post(
        "/introspect", data={"token": token}, auth=(caller.client.client_id, caller.client_secret)
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body == INACTIVE or body["active"] is True
    return body["active"]


async def test_revoked_token_is_inactive_and_others_are_not(identity, issue):
    client = await identity.register(["context:read"])
    token, other = await issue(identity, client), await issue(identity, client)
    assert await is_active(identity, token)
    response = await revoke(identity, client, token)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert not await is_active(identity, token)
    assert await is_active(identity, other)


async def test_client_secret_post_revokes(identity, issue):
    client = await identity.register(["context:read"], method="client_secret_post")
    token = await issue(identity, client)
    response = await identity.http.post(
        "/revoke",
        data={"token": token, "client_id": client.client.client_id, "client_secret": client.client_secret},
    )
    assert response.status_code == 200, response.text
    assert not await is_active(identity, token)


async def test_a_client_cannot_revoke_another_clients_token(identity, issue):
    owner, other = await identity.register(["context:read"]), await identity.register(["context:read"])
    token = await issue(identity, owner)
    response = await revoke(identity, other, token)
    assert response.status_code == 200  # RFC 7009 section 2.2: says nothing about others' tokens
    assert await is_active(identity, token)


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "x" * 4000])
async def test_unknown_or_garbage_token_answers_200(identity, token):
    client = await identity.register(["context:read"])
    response = await revoke(identity, client, token)
    assert (response.status_code, response.json()) == (200, {})


async def test_revoking_twice_and_any_hint_are_fine(identity, issue):
    client = await identity.register(["context:read"])
    token = await issue(identity, client)
    assert (await revoke(identity, client, token, token_type_hint="refresh_token")).status_code == 200
    assert (await revoke(identity, client, token, token_type_hint="no_such_type")).status_code == 200
    assert not await is_active(identity, token)


@pytest.mark.parametrize("credentials", ["none", "wrong secret", "unknown client"])
async def test_caller_must_authenticate(identity, issue, credentials):
    client = await identity.register(["context:read"])
    token = await issue(identity, client)
    auth = {
        "none": None,
        "wrong secret": (client.client.client_id, "not the secret"),
        "unknown client": ("nobody", client.client_secret),
    }[credentials]
    response = await identity.http.post("/revoke", data={"token": token}, auth=auth)
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic ")
    assert await is_active(identity, token)


async def test_missing_token_is_invalid_request(identity):
    client = await identity.register(["context:read"])
    response = await identity.http.post("/revoke", data={}, auth=(client.client.client_id, client.client_secret))
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


async def test_revocation_survives_a_restart(start, issue):
    identity = await start()
    client = await identity.register(["context:read"])
    token = await issue(identity, client)
    assert (await revoke(identity, client, token)).status_code == 200
    assert not await is_active(await start(), token)


async def test_expired_revocations_are_purged(identity):
    clock = [datetime.now(UTC).replace(microsecond=0)]
    start = clock[0]
    store = SqlRevocationStore(identity.app.state.engine, clock=lambda: clock[0])
    await store.revoke("short", "client", start + timedelta(seconds=10))
    await store.revoke("long", "client", start + timedelta(seconds=60))
    clock[0] = start + timedelta(seconds=11)
    assert await store.is_revoked("short")  # kept until purged
    assert await store.purge() == 1
    assert not await store.is_revoked("short")
    assert await store.is_revoked("long")
    # Each revocation purges as well.
    clock[0] = start + timedelta(seconds=61)
    await store.revoke("next", "client", start + timedelta(seconds=120))
    assert not await store.is_revoked("long")
    assert await store.is_revoked("next")
