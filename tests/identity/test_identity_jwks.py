"""RFC 7517 /jwks: public members only, a kid on every key, the key kept across restarts."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from joserfc.jwk import ECKey

from mims.identity.keys import current_signing_key, generate_signing_key
from mims.identity.service import SPEC
from mims.identity.storage import SqlSigningKeyStore
from mims.kit import storage

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


async def test_jwks_publishes_public_members_with_kid(identity):
    response = await identity.http.get("/jwks")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/jwk-set+json"
    keys = response.json()["keys"]
    assert len(keys) == 1
    for key in keys:
        assert not PRIVATE_MEMBERS & key.keys()
        assert (key["kty"], key["crv"], key["alg"], key["use"]) == ("EC", "P-256", "ES256", "sig")
        assert key["kid"] == ECKey.import_key(key).thumbprint()


async def test_signing_key_is_created_once_and_persisted(start):
    first = (await (await start()).http.get("/jwks")).json()
    again = (await (await start()).http.get("/jwks")).json()
    assert first == again


async def test_retired_keys_are_neither_published_nor_used(identity):
    store = SqlSigningKeyStore(identity.app.state.engine)
    published = (await identity.http.get("/jwks")).json()["keys"]
    retired = generate_signing_key(clock=lambda: datetime(2020, 1, 1, tzinfo=UTC))
    await store.add(replace(retired, retired_at=datetime(2020, 6, 1, tzinfo=UTC)))
    assert (await identity.http.get("/jwks")).json()["keys"] == published
    assert (await current_signing_key(store)).kid == published[0]["kid"]


async def test_the_oldest_active_key_signs(identity):
    store = SqlSigningKeyStore(identity.app.state.engine)
    current = await current_signing_key(store)
    later = generate_signing_key(clock=lambda: current.created_at + timedelta(seconds=1))
    await store.add(later)
    assert [key["kid"] for key in (await identity.http.get("/jwks")).json()["keys"]] == [current.kid, later.kid]
    assert await current_signing_key(store) == current


async def test_replicas_starting_together_sign_with_published_keys(database_url, tmp_path):
    engine = storage.create_engine(database_url or storage.default_database_url("identity", tmp_path))
    try:
        await storage.migrate(engine, SPEC.name, SPEC.migrations)
        store = SqlSigningKeyStore(engine)
        chosen = await asyncio.gather(*(current_signing_key(store) for _ in range(4)))
        published = {key.kid for key in await store.active()}
        assert {key.kid for key in chosen} <= published
        assert await current_signing_key(store) == min(await store.active(), key=lambda k: (k.created_at, k.kid))
    finally:
        await engine.dispose()
