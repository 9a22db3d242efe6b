"""First start: an admin client and demo clients, so a fresh platform can be used at once;
also a demo portal (a public client signing people in) and demo users ``citizen`` and ``officer``.

Called by the command line (``oup up``, ``oup serve identity``), never by the app itself: the
secrets are returned to the caller, which shows them once on the console and nowhere else.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from mims.identity.clients import ClientExists, Registration, register_client
from mims.identity.service import SPEC
from mims.identity.settings import IdentitySettings
from mims.identity.storage import SqlClientStore
from mims.identity.user_storage import SqlUserStore
from mims.identity.users import User, UserExists, register_user
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
    Seed("demo-publisher", "Demo: publishes datasets and offers in the marketplace", ("marketplace:publish",)),
    Seed("demo-data-developer", "Demo: finds data in the marketplace and negotiates its use", ("marketplace:consume",)),
)


#: The portal people sign in through (a public client: PKCE, no secret), served by the gateway.
DEMO_PORTAL = Seed(
    "demo-portal", "Demo: the city's portal for citizens, officers and data developers",
    ("context:read", "marketplace:consume", "permit:submit", "permit:review"),
)
#: The portal's redirect URI when the gateway is at its own port (``oup up`` gives the one it serves).
DEMO_PORTAL_REDIRECT_URI = "http://127.0.0.1:8000/auth/callback"
#: username, display name, roles.
DEMO_USERS = (("citizen", "Demo citizen", ("citizen",)), ("officer", "Demo permit officer", ("officer",)))


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


async def bootstrap_sign_in(
    clients: SqlClientStore, users: SqlUserStore, platform_scopes: Iterable[str],
    portal_redirect_uri: str = DEMO_PORTAL_REDIRECT_URI,
) -> tuple[list[Registration], list[tuple[User, str]]]:
    """When no user exists yet: the demo portal (if the platform offers its scopes) redirecting to
    ``portal_redirect_uri``, and the demo users with random passwords, returned so the caller can
    show them once."""
    if await users.any():
        return [], []
    offered = tuple(platform_scopes)
    portal = []
    if set(DEMO_PORTAL.scopes) <= set(offered):
        try:
            portal.append(
                await register_client(
                    clients,
                    name=DEMO_PORTAL.name,
                    scopes=DEMO_PORTAL.scopes,
                    platform_scopes=offered,
                    grant_types=("authorization_code", "refresh_token"),
                    token_endpoint_auth_method="none",
                    redirect_uris=(portal_redirect_uri,),
                    client_id=DEMO_PORTAL.client_id,
                )
            )
        except ClientExists:
            pass
    people = []
    for username, name, roles in DEMO_USERS:
        password = secrets.token_urlsafe(12)
        try:
            user = await register_user(users, username=username, password=password, roles=roles, name=name)
        except UserExists:
            continue
        people.append((user, password))
    return portal, people
