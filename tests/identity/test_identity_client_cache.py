"""Client records reused between token requests: deletions and new clients still take effect."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

import pytest

from mims.identity import service
from mims.identity.client_cache import ClientCache
from mims.identity.clients import Client, register_client
from mims.identity.storage import SqlClientStore


async def token_status(identity, client_id: str, secret: str) -> int:
    response = await identity.http.post("/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    return response.status_code


@pytest.fixture
def now(monkeypatch) -> list[float]:
    """The clock of the client cache of apps started from now on, moved by the test."""
    clock = [0.0]
    monkeypatch.setattr(service, "ClientCache", partial(ClientCache, clock=lambda: clock[0]))
    return clock


async def test_a_client_deleted_through_the_admin_api_is_refused_at_once(identity, issue) -> None:
    admin = {"Authorization": f"Bearer {await issue(identity, await identity.register(['admin']))}"}
    created = await identity.http.post("/admin/clients", json={"name": "hub", "scopes": ["context:read"]}, headers=admin)
    client_id, secret = created.json()["client_id"], created.json()["client_secret"]
    assert await token_status(identity, client_id, secret) == 200  # now remembered

    assert (await identity.http.delete(f"/admin/clients/{client_id}", headers=admin)).status_code == 204
    assert await token_status(identity, client_id, secret) == 401


async def test_a_client_deleted_in_storage_is_refused_once_the_ttl_has_passed(start, now) -> None:
    identity = await start(client_cache_ttl=10)
    registration = await identity.register(["context:read"])
    client_id, secret = registration.client.client_id, registration.client_secret
    assert await token_status(identity, client_id, secret) == 200

    assert await SqlClientStore(identity.app.state.engine).delete(client_id)  # as another replica would
    now[0] = 9.9
    assert await token_status(identity, client_id, secret) == 200  # still remembered here
    now[0] = 10.0
    assert await token_status(identity, client_id, secret) == 401


async def test_with_ttl_0_every_request_reads_storage(start) -> None:
    identity = await start(client_cache_ttl=0)
    registration = await identity.register(["context:read"])
    client_id, secret = registration.client.client_id, registration.client_secret
    assert await token_status(identity, client_id, secret) == 200

    assert await SqlClientStore(identity.app.state.engine).delete(client_id)
    assert await token_status(identity, client_id, secret) == 401


async def test_a_new_client_works_at_once_after_its_id_was_refused(identity) -> None:
    assert await token_status(identity, "newcomer", "any secret") == 401
    registration = await register_client(
        SqlClientStore(identity.app.state.engine),
        name="newcomer",
        scopes=["context:read"],
        platform_scopes=identity.app.state.settings.scopes,
        client_id="newcomer",
    )
    assert await token_status(identity, "newcomer", registration.client_secret) == 200


def test_a_read_under_way_when_the_client_is_forgotten_is_not_remembered() -> None:
    cache = ClientCache(ttl=10)
    client = Client(
        client_id="c", secret_hash="h", name="c", grant_types=("client_credentials",), scopes=(),
        token_endpoint_auth_method="client_secret_basic", created_at=datetime.now(UTC),
    )
    reads: list[str] = []

    def deleted_while_read(client_id: str) -> Client | None:
        reads.append(client_id)
        cache.forget(client_id)  # the admin API deletes it while this read is under way
        return client

    assert cache.get("c", deleted_while_read) is client
    assert cache.get("c", lambda client_id: None) is None  # read again: not served from memory
    assert reads == ["c"]
