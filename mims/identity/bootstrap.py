"""First start: an admin client and demo clients, so a fresh platform can be used at once.

Called by the command line (``oup up``, ``oup serve identity``), never by the app itself: the
secrets are returned to the caller, which shows them once on the console and nowhere else.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from mims.identity.clients import ClientExists, Registration, register_client
from mims.identity.service import SPEC
from mims.identity.settings import IdentitySettings
from mims.identity.storage import SqlClientStore
from mims.kit import storage


@dataclass(frozen=True, slots=True)
class Seed:
    client_id: str
    name: str
    scopes: tuple[str, ...]


#: The clients a fresh platform starts with.
SEEDS = (
    Seed("admin", "Bootstrap administrator", ("admin",)),
    Seed("demo-context-reader", "Demo: reads the city's context", ("context:read",)),
    Seed("demo-context-writer", "Demo: reads and writes the city's context", ("context:read", "context:write")),
)


@asynccontextmanager
async def identity_storage(settings: IdentitySettings) -> AsyncIterator[AsyncEngine]:
    """The identity MIM's database (the one its service uses), migrated, for one-off commands."""
    assert SPEC.migrations is not None
    engine = storage.create_engine(settings.database_url or storage.default_database_url(SPEC.name, settings.data_dir))
    try:
        await storage.migrate(engine, SPEC.name, SPEC.migrations)
        yield engine
    finally:
        await engine.dispose()


async def bootstrap_clients(store: SqlClientStore, platform_scopes: Iterable[str]) -> list[Registration]:
    """Register :data:`SEEDS` when no client exists yet; the registrations made (with secrets).

    Seeds asking for a scope the platform is not configured with are left out. A seed another
    process registered at the same moment is skipped, so each secret exists exactly once.
    """
    if await store.any():
        return []
    offered = tuple(platform_scopes)
    made = []
    for seed in SEEDS:
        if not set(seed.scopes) <= set(offered):
            continue
        try:
            made.append(
                await register_client(
                    store, name=seed.name, scopes=seed.scopes, platform_scopes=offered, client_id=seed.client_id
                )
            )
        except ClientExists:
            continue
    return made
