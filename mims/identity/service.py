"""The identity MIM as a service: its spec and app factory (``oup serve identity``, port 8001)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from mims.identity import admin_api, authorize, oidc, rfc6749, rfc7009, rfc7517, rfc7591, rfc7662, rfc8414, rfc8693
from mims.identity import trust_api
from mims.identity.authorization_code import UserFlow
from mims.identity.bearer import OwnAccessTokens
from mims.identity.bruteforce import ClientAuthFailures
from mims.identity.client_cache import ClientCache
from mims.identity.keys import current_signing_key
from mims.identity.revocations import SqlRevocationStore
from mims.identity.rfc9068 import AccessTokenGenerator
from mims.identity.secret_cache import verified_secrets
from mims.identity.settings import IdentitySettings
from mims.identity.storage import SqlClientStore, SqlSigningKeyStore
from mims.identity.user_storage import SqlAuthorizationCodeStore, SqlRefreshTokenStore, SqlUserStore
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
    app.state.client_cache = ClientCache(ttl=settings.client_cache_ttl)
    server = rfc6749.TokenServer(
        clients=lambda: SqlClientStore(app.state.engine), cache=app.state.client_cache, generator=generator
    )
    tokens = rfc7662.AccessTokens(
        issuer=settings.issuer,
        keys=lambda: SqlSigningKeyStore(app.state.engine),
        revocations=lambda: SqlRevocationStore(app.state.engine),
    )
    if app.state.token_verifier is None:
        app.state.token_verifier = OwnAccessTokens(tokens)
    trust_api.install(app, settings)
    rfc8693.register(server, app, settings, tokens)
    flow = UserFlow(
        settings=settings,
        users=lambda: SqlUserStore(app.state.engine),
        codes=lambda: SqlAuthorizationCodeStore(app.state.engine),
        refresh_tokens=lambda: SqlRefreshTokenStore(app.state.engine),
        revocations=lambda: SqlRevocationStore(app.state.engine),
        signing_key=lambda: app.state.signing_key,
    )
    authorize.install(app, flow, server)
    server.register_endpoint(rfc7662.Introspection(tokens, lambda: SqlRefreshTokenStore(app.state.engine)))
    server.register_endpoint(rfc7009.Revocation(tokens, lambda: SqlRevocationStore(app.state.engine), flow))
    app.state.authorization_server = server
    app.state.client_auth_failures = ClientAuthFailures(
        per_client=settings.token_failures_per_client,
        per_ip=settings.token_failures_per_ip,
        trusted_proxies=settings.trusted_proxies,
    )
    verified_secrets.configure(ttl=settings.secret_cache_ttl, size=settings.secret_cache_size)


#: Seconds between reloads of the signing key: a rotation (``oup identity rotate-keys``, made in
#: another process) takes effect this soon, well within its overlap period.
KEY_RELOAD_INTERVAL = 30.0


async def load_signing_key(app: FastAPI) -> None:
    """Make the current signing key the one tokens are signed with, creating it on first start."""
    store = SqlSigningKeyStore(app.state.engine)
    app.state.signing_key = (await current_signing_key(store, alg=app.state.settings.signing_alg)).jwk()


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
        "OAuth 2.0 authorization server and OpenID provider of the platform: clients, users and their"
        " sign-in page, signing keys, JWT access tokens, ID tokens, refresh tokens, introspection and"
        " revocation."
    ),
    version="0.1.0",
    produces=("oauth-server-metadata@1.0.0", "jwt-access-token-claims@1.0.0", "introspection-response@1.0.0",
              "trust-list@1.1.0"),
    consumes=("trust-list@1.1.0", "token-exchange-request@1.0.0"),
    routers=(rfc8414.router, rfc7517.router, rfc6749.router, rfc7662.router, rfc7009.router,
             rfc7591.router, admin_api.router, authorize.router, oidc.router, trust_api.router),
    build=_build,
    migrations=Path(__file__).parent / "migrations" / "versions",
    background=(_signing_key, trust_api.running),
    settings_cls=IdentitySettings,
)


def create_app(**overrides: Any) -> FastAPI:
    """The identity app; ``overrides`` are settings fields (``issuer=``, ``data_dir=``, ...)."""
    return service.create_app(SPEC, SPEC.settings(**overrides))
