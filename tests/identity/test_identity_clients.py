"""Client registration: the secret returned once, only its argon2 hash stored; on both engines."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from mims.identity.clients import ClientExists, InvalidClientMetadata, register_client
from mims.identity.service import SPEC
from mims.identity.settings import PLATFORM_SCOPES
from mims.identity.storage import SqlClientStore, clients
from mims.kit import storage


@pytest.fixture
async def engine(database_url, tmp_path):
    engine = storage.create_engine(database_url or storage.default_database_url("identity", tmp_path))
    await storage.migrate(engine, SPEC.name, SPEC.migrations)
    yield engine
    await engine.dispose()


@pytest.fixture
def store(engine):
    return SqlClientStore(engine)


async def register(store, **overrides):
    arguments = {"name": "dashboard", "scopes": ["context:read"], "platform_scopes": PLATFORM_SCOPES, **overrides}
    return await register_client(store, **arguments)


async def test_only_an_argon2_hash_of_the_secret_is_stored(engine, store):
    registration = await register(store)
    async with engine.connect() as connection:
        row = (await connection.execute(sa.select(clients))).one()._mapping
    stored = " ".join(str(value) for value in row.values())
    assert registration.client_secret not in stored
    assert row["secret_hash"].startswith("$argon2id$")
    assert PasswordHasher().verify(row["secret_hash"], registration.client_secret)


async def test_registered_client_reads_back(store):
    registration = await register(store, client_id="dash-1", token_endpoint_auth_method="client_secret_post")
    client = await store.get("dash-1")
    assert client == registration.client
    assert client.check_secret(registration.client_secret)
    assert not client.check_secret(registration.client_secret + "x")
    assert await store.get("dash-2") is None


async def test_each_client_gets_its_own_id_and_secret(store):
    one, two = await register(store), await register(store)
    assert one.client.client_id != two.client.client_id
    assert one.client_secret != two.client_secret


async def test_client_id_taken_is_refused(store):
    await register(store, client_id="dash-1")
    with pytest.raises(ClientExists):
        await register(store, client_id="dash-1")


@pytest.mark.parametrize(
    "overrides",
    [
        {"scopes": ["context:read", "context:delete"]},
        {"grant_types": ["password"]},
        {"grant_types": []},
        {"token_endpoint_auth_method": "none"},
        {"client_id": "with:colon"},
        {"name": " "},
    ],
)
async def test_registration_outside_what_the_platform_offers_is_refused(engine, store, overrides):
    with pytest.raises(InvalidClientMetadata):
        await register(store, **overrides)
    async with engine.connect() as connection:
        assert (await connection.execute(sa.select(sa.func.count()).select_from(clients))).scalar_one() == 0
