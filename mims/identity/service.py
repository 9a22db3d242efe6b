"""The identity MIM as a service: its spec and app factory (``oup serve identity``, port 8001)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from mims.identity import rfc6749, rfc7517, rfc8414
from mims.identity.keys import current_signing_key
from mims.identity.rfc9068 import AccessTokenGenerator
from mims.identity.settings import IdentitySettings
from mims.identity.storage import SqlClientStore, SqlSigningKeyStore
from mims.kit import service
from mims.kit.settings import MimSettings


def _build(app: FastAPI, settings: MimSettings) -> None:
    assert isinstance(settings, IdentitySettings)
    generator = AccessTokenGenerator(
        issuer=settings.issuer,
        default_audience=settings.default_audience,
        lifetime=settings.access_token_lifetime,
        signing_key=lambda: app.state.signing_key,
    )
    app.state.signing_key = None
    app.state.authorization_server = rfc6749.TokenServer(
        clients=lambda: SqlClientStore(app.state.engine), generator=generator
    )


@asynccontextmanager
async def _signing_key(app: FastAPI) -> AsyncIterator[None]:
    """Once storage is migrated: load the signing key, creating it on first start."""
    app.state.signing_key = (await current_signing_key(SqlSigningKeyStore(app.state.engine))).jwk()
    try:
        yield
    finally:
        app.state.signing_key = None


SPEC = service.MimSpec(
    name="identity",
    title="Identity MIM",
    description="OAuth 2.0 authorization server of the platform: clients, signing keys, JWT access tokens.",
    version="0.1.0",
    routers=(rfc8414.router, rfc7517.router, rfc6749.router),
    build=_build,
    migrations=Path(__file__).parent / "migrations" / "versions",
    background=(_signing_key,),
    settings_cls=IdentitySettings,
)


def create_app(**overrides: Any) -> FastAPI:
    """The identity app; ``overrides`` are settings fields (``issuer=``, ``data_dir=``, ...)."""
    return service.create_app(SPEC, SPEC.settings(**overrides))
