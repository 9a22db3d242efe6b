"""Signing key rotation with an overlap period, and the first-start clients."""

from __future__ import annotations

import base64
import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from mims.identity.bootstrap import SEEDS, bootstrap_clients
from mims.identity.keys import current_signing_key, rotate_signing_key
from mims.identity.service import load_signing_key
from mims.identity.settings import IdentitySettings
from mims.identity.storage import SqlClientStore, SqlSigningKeyStore
from mims.kit.auth import InvalidToken, TokenVerifier

ISSUER = "http://127.0.0.1:8001"
AUDIENCE = "urn:oup:platform"
DAY = timedelta(days=1)


def kid_of(token: str) -> str:
    encoded = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))["kid"]


def verifier(identity) -> TokenVerifier:
    return TokenVerifier(jwks_url=f"{ISSUER}/jwks", issuers=[ISSUER], audience=AUDIENCE, http=identity.http)


async def token(identity, client_id: str, secret: str) -> str:
    response = await identity.http.post("/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


async def published(identity) -> list[str]:
    return [key["kid"] for key in (await identity.http.get("/jwks")).json()["keys"]]


async def test_rotation_signs_with_the_new_key_and_old_tokens_verify_during_the_overlap(start):
    before = await start()
    registration = await before.register(["context:read"])
    credentials = (registration.client.client_id, registration.client_secret)
    old_token = await token(before, *credentials)
    old_kid = kid_of(old_token)

    new, retired = await rotate_signing_key(SqlSigningKeyStore(before.app.state.engine), overlap=DAY)
    assert [key.kid for key in retired] == [old_kid]
    assert retired[0].retired_at == new.created_at + DAY

    after = await start()  # a restarted service signs with the key the rotation added
    new_token = await token(after, *credentials)
    assert kid_of(new_token) == new.kid != old_kid
    assert await published(after) == [old_kid, new.kid]
    checking = verifier(after)
    assert (await checking.verify(old_token)).client_id == credentials[0]
    assert (await checking.verify(new_token)).client_id == credentials[0]


async def test_a_running_service_takes_up_a_rotation_made_elsewhere_when_it_reloads(identity):
    registration = await identity.register(["context:read"])
    credentials = (registration.client.client_id, registration.client_secret)
    old_kid = kid_of(await token(identity, *credentials))
    new, _ = await rotate_signing_key(SqlSigningKeyStore(identity.app.state.engine), overlap=DAY)
    assert kid_of(await token(identity, *credentials)) == old_kid  # until the next reload
    await load_signing_key(identity.app)  # what the service does every KEY_RELOAD_INTERVAL
    assert kid_of(await token(identity, *credentials)) == new.kid


async def test_after_the_overlap_the_old_key_is_neither_published_nor_accepted(start):
    before = await start()
    registration = await before.register(["context:read"])
    old_token = await token(before, registration.client.client_id, registration.client_secret)
    # A rotation two days ago with a one-day overlap: the old key's period has ended.
    two_days_ago = datetime.now(UTC) - 2 * DAY
    new, _ = await rotate_signing_key(
        SqlSigningKeyStore(before.app.state.engine), overlap=DAY, clock=lambda: two_days_ago
    )
    after = await start()
    assert await published(after) == [new.kid]
    with pytest.raises(InvalidToken):
        await verifier(after).verify(old_token)


async def test_the_store_publishes_a_replaced_key_until_its_overlap_ends(identity):
    now = datetime.now(UTC)
    old = await current_signing_key(SqlSigningKeyStore(identity.app.state.engine))
    new, _ = await rotate_signing_key(SqlSigningKeyStore(identity.app.state.engine), overlap=DAY, clock=lambda: now)
    at = lambda moment: SqlSigningKeyStore(identity.app.state.engine, clock=lambda: moment)
    assert [key.kid for key in await at(now + DAY - timedelta(seconds=1)).active()] == [old.kid, new.kid]
    assert [key.kid for key in await at(now + DAY).active()] == [new.kid]
    assert await current_signing_key(at(now)) == new


async def test_a_second_rotation_keeps_each_replaced_key_for_its_own_overlap(identity):
    store = SqlSigningKeyStore(identity.app.state.engine)
    first = await current_signing_key(store)
    t1 = datetime.now(UTC)
    second, retired_first = await rotate_signing_key(store, overlap=DAY, clock=lambda: t1)
    t2 = t1 + timedelta(hours=1)
    third, retired_second = await rotate_signing_key(store, overlap=DAY, clock=lambda: t2)
    assert [key.kid for key in retired_first] == [first.kid]
    assert [key.kid for key in retired_second] == [second.kid]  # the first is not retired again
    assert await current_signing_key(store) == third
    keys = {key.kid: key.retired_at for key in await store.active()}
    assert keys == {first.kid: t1 + DAY, second.kid: t2 + DAY, third.kid: None}


async def test_a_negative_overlap_is_refused(identity):
    store = SqlSigningKeyStore(identity.app.state.engine)
    kids = [key.kid for key in await store.active()]
    with pytest.raises(ValueError, match="overlap"):
        await rotate_signing_key(store, overlap=timedelta(seconds=-1))
    assert [key.kid for key in await store.active()] == kids


def test_the_overlap_defaults_to_a_day_and_outlives_access_tokens():
    assert IdentitySettings().key_overlap == 86_400
    with pytest.raises(ValidationError, match="key_overlap"):
        IdentitySettings(key_overlap=60, access_token_lifetime=300)


async def test_bootstrap_registers_the_seed_clients_once(identity, caplog):
    caplog.set_level(logging.DEBUG)
    store = SqlClientStore(identity.app.state.engine)
    made = await bootstrap_clients(store, identity.app.state.settings.scopes)
    assert [registration.client.client_id for registration in made] == [seed.client_id for seed in SEEDS]
    assert await bootstrap_clients(store, identity.app.state.settings.scopes) == []
    assert [client.client_id for client in await store.all()] == [seed.client_id for seed in SEEDS]
    for registration in made:
        assert registration.client_secret not in caplog.text
    admin = next(r for r in made if r.client.client_id == "admin")
    verified = await verifier(identity).verify(await token(identity, "admin", admin.client_secret))
    assert verified.scopes == frozenset({"admin"})


async def test_bootstrap_does_nothing_once_a_client_exists(identity):
    await identity.register(["context:read"])
    store = SqlClientStore(identity.app.state.engine)
    assert await bootstrap_clients(store, identity.app.state.settings.scopes) == []
    assert len(await store.all()) == 1


async def test_bootstrap_leaves_out_seeds_the_platform_does_not_offer(start):
    identity = await start(scopes=("context:read", "context:write"))
    made = await bootstrap_clients(SqlClientStore(identity.app.state.engine), identity.app.state.settings.scopes)
    assert [registration.client.client_id for registration in made] == ["demo-context-reader", "demo-context-writer"]
