"""Verified client secrets are cached briefly, so a busy client skips argon2; nothing else gets in."""

from __future__ import annotations

from dataclasses import replace

import pytest
import sqlalchemy as sa

from mims.identity import clients
from mims.identity.secret_cache import VerifiedSecrets
from mims.identity.storage import clients as client_table

GRANT = {"grant_type": "client_credentials"}


class CountingHasher:
    """argon2, counting the verifications it is asked for."""

    def __init__(self, hasher) -> None:
        self._hasher = hasher
        self.verifications = 0

    def verify(self, hash: str, password: str) -> bool:
        self.verifications += 1
        return self._hasher.verify(hash, password)

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)


@pytest.fixture
def argon2(monkeypatch) -> CountingHasher:
    counting = CountingHasher(clients._HASHER)
    monkeypatch.setattr(clients, "_HASHER", counting)
    return counting


async def test_a_cached_success_skips_argon2_and_a_wrong_secret_is_still_refused(identity, argon2):
    registration = await identity.register(["context:read"])
    credentials = (registration.client.client_id, registration.client_secret)
    for _ in range(3):
        assert (await identity.http.post("/token", data=GRANT, auth=credentials)).status_code == 200
    assert argon2.verifications == 1  # the first request; the next two were served from the cache

    wrong = await identity.http.post("/token", data=GRANT, auth=(credentials[0], credentials[1] + "x"))
    assert wrong.status_code == 401
    assert argon2.verifications == 2  # a wrong secret always pays the full verification


async def test_a_deleted_client_is_not_served_from_the_cache(start, argon2):
    identity = await start(client_cache_ttl=0)  # client records read on every request (client_cache.py)
    registration = await identity.register(["context:read"])
    credentials = (registration.client.client_id, registration.client_secret)
    assert (await identity.http.post("/token", data=GRANT, auth=credentials)).status_code == 200
    async with identity.app.state.engine.begin() as connection:
        await connection.execute(sa.delete(client_table).where(client_table.c.client_id == credentials[0]))
    assert (await identity.http.post("/token", data=GRANT, auth=credentials)).status_code == 401


def test_a_new_secret_misses_the_cache_and_the_old_one_stops_working():
    old_secret, new_secret = "old secret", "new secret"
    client = clients.Client(
        client_id="rotating",
        secret_hash=clients._HASHER.hash(old_secret),
        name="rotating",
        grant_types=("client_credentials",),
        scopes=("context:read",),
        token_endpoint_auth_method="client_secret_basic",
        created_at=clients.datetime.now(clients.UTC),
    )
    assert client.check_secret(old_secret)  # now cached
    rotated = replace(client, secret_hash=clients._HASHER.hash(new_secret))
    assert not rotated.check_secret(old_secret)
    assert rotated.check_secret(new_secret)


def test_entries_expire_and_the_cache_is_bounded():
    now = [0.0]
    cache = VerifiedSecrets(ttl=10, size=2, clock=lambda: now[0])
    cache.add("a", "hash-a", "secret-a")
    assert ("a", "hash-a", "secret-a") in cache
    assert ("a", "hash-a", "secret-b") not in cache and ("b", "hash-a", "secret-a") not in cache
    now[0] = 10.0
    assert ("a", "hash-a", "secret-a") not in cache  # expired

    for name in "abc":
        cache.add(name, "hash", "secret")
    assert len(cache) == 2 and ("a", "hash", "secret") not in cache  # the least recently used went

    cache.configure(ttl=0, size=2)  # a TTL of 0 caches nothing
    cache.add("d", "hash", "secret")
    assert ("d", "hash", "secret") not in cache


def test_the_cache_keeps_no_secret_in_the_clear():
    cache = VerifiedSecrets()
    cache.add("client", "hash", "the-secret")
    assert not any("the-secret" in repr(part) for entry in cache._entries for part in entry)
