"""The identity MIM as a service: its spec and app factory (``oup serve identity``, port 8001)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from mims.identity import rfc6749, rfc7009, rfc7517, rfc7662, rfc8414
from mims.identity.keys import current_signing_key
from mims.identity.revocations import SqlRevocationStore
from mims.identity.rfc9068 import AccessTokenGenerator
from mims.identity.settings import IdentitySettings
from mims.identity.storage import SqlClientStore, SqlSigningKeyStore
from mims.kit import service
from mims.kit.periodic import every
from mims.kit.settings import MimSettings

logger = logging.getLogger(__name__)


def _build(app: FastAPI, settings: MimSettings) -> None:
    assert isinstance(settings, IdentitySettings)
    generator = AccessTokenGenerator(
        issuer=settings.issuer,
        default_audience=settings.default_audience,
        lifetime=settings.access_token_lifetime,
        signing_key=lambda: app.state.signing_key,
    )
    app.state.signing_key = None
    server = rfc6749.TokenServer(clients=lambda: SqlClientStore(app.state.engine), generator=generator)
    tokens = rfc7662.AccessTokens(
        issuer=settings.issuer,
        keys=lambda: SqlSigningKeyStore(app.state.engine),
        revocations=lambda: SqlRevocationStore(app.state.engine),
    )
    server.register_endpoint(rfc7662.Introspection(tokens))
    server.register_endpoint(rfc7009.Revocation(tokens, lambda: SqlRevocationStore(app.state.engine)))
    app.state.authorization_server = server


#: Seconds between reloads of the signing key: a rotation (``oup identity rotate-keys``, made in
#: another process) takes effect this soon, well within its overlap period.
KEY_RELOAD_INTERVAL = 30.0


async def load_signing_key(app: FastAPI) -> None:
    """Make the current signing key the one tokens are signed with, creating it on first start."""
    app.state.signing_key = (await current_signing_key(SqlSigningKeyStore(app.state.engine))).jwk()


@asynccontextmanager
async def _signing_key(app: FastAPI) -> AsyncIterator[None]:
    """Once storage is migrated: the signing key, loaded now and again every KEY_RELOAD_INTERVAL."""
    await load_signing_key(app)
    try:
        async with every(KEY_RELOAD_INTERVAL, lambda: load_signing_key(app), logger, "signing key reload failed"):
            yield
    finally:
        app.state.signing_key = None


SPEC = service.MimSpec(
    name="identity",
    title="Identity MIM",
    description=(
        "OAuth 2.0 authorization server of the platform: clients, signing keys, JWT access tokens,"
        " introspection and revocation."
    ),
    version="0.1.0",
    produces=("oauth-server-metadata@1.0.0", "jwt-access-token-claims@1.0.0", "introspection-response@1.0.0"),
    routers=(rfc8414.router, rfc7517.router, rfc6749.router, rfc7662.router, rfc7009.router),
    build=_build,
    migrations=Path(__file__).parent / "migrations" / "versions",
    background=(_signing_key,),
    settings_cls=IdentitySettings,
)


def create_app(**overrides: Any) -> FastAPI:
    """The identity app; ``overrides`` are settings fields (``issuer=``, ``data_dir=``, ...)."""
    return service.create_app(SPEC, SPEC.settings(**overrides))
