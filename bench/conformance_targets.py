"""Our reference MIMs deployed as conformance targets: each MIM served over real HTTP on loopback
ports (in threads of this process), with what its checks need (clients, a second party, a peer
city that answers and one that is down), and the ``Target`` a run is made against.

``deploy(mim, folder, mutate)`` serves the MIM's app through ``mutate`` (identity: the reference
itself), so a mutant is the reference with one fault put in; ``Deployment`` tells a mutant what it
may need to put it in (the signing key, a client's credentials, a way to rebuild the app)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from joserfc import jwt

from bench.serving import closed_port, free_port, served
from conformance.session import Target
from gateway.service import create_app as create_gateway
from mims.context.service import create_app as create_context
from mims.identity.clients import register_client
from mims.identity.keys import SigningKey, generate_signing_key
from mims.identity.service import SPEC as IDENTITY
from mims.identity.service import create_app as create_identity
from mims.identity.settings import PLATFORM_SCOPES
from mims.identity.storage import SqlClientStore, SqlSigningKeyStore
from mims.kit import storage
from mims.marketplace.service import create_app as create_marketplace
from mims.permit_check.service import create_app as create_permit_check

MIMS = ("identity", "context", "marketplace", "permit-check", "gateway")
GRANTS_SCOPE = "marketplace:grants"
"""Not issued by the identity MIM by default (the gateway reads grants as itself); the marketplace's
deployment issues it to a client of its own (as a gateway would be), so the grant check reads grants
with a real token."""
GRANTS = ("client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange")
"""Each client may exchange tokens (RFC 8693) too, so the token-exchange checks judge the requests."""
NOTIFICATION_TIMEOUT = "10"
"""Seconds the notification checks wait here (the reference notifies within a second)."""

App = Any
Mutate = Callable[[App, "Deployment"], App]


@dataclass
class Deployment:
    """What a mutant may use: the folder, the identity's signing key and clients' secrets, and (for
    the gateway) ``rebuild(**settings)``, the reference app with other settings, and the URLs of the
    services behind it (``identity``, ``context``)."""

    folder: Path
    key: SigningKey | None = None
    secrets: dict[str, str] = field(default_factory=dict)
    rebuild: Callable[..., App] | None = None
    urls: dict[str, str] = field(default_factory=dict)


def unchanged(app: App, deployment: Deployment) -> App:
    return app


@contextmanager
def deploy(mim: str, folder: Path, mutate: Mutate = unchanged) -> Iterator[Target]:
    """``mim`` served from ``folder`` through ``mutate`` until the block ends; the target to run against."""
    deployers = {"identity": _identity, "context": _context, "marketplace": _marketplace,
                 "permit-check": _permit_check, "gateway": _gateway}
    with deployers[mim](folder, mutate) as target:
        yield target


async def _prepare_identity(folder: Path, clients: dict[str, list[str]], scopes: tuple[str, ...]
                            ) -> tuple[dict[str, str], SigningKey]:
    """Clients (their secrets by client id) and the signing key, stored before the identity MIM starts
    (it signs with the key it finds)."""
    engine = storage.create_engine(storage.default_database_url(IDENTITY.name, folder))
    try:
        await storage.migrate(engine, IDENTITY.name, IDENTITY.migrations)
        secrets = {}
        for client_id, client_scopes in clients.items():
            registration = await register_client(SqlClientStore(engine), name=client_id, scopes=client_scopes,
                                                 platform_scopes=scopes, client_id=client_id, grant_types=GRANTS)
            assert registration.client_secret is not None
            secrets[client_id] = registration.client_secret
        key = generate_signing_key()
        await SqlSigningKeyStore(engine).add(key)
        return secrets, key
    finally:
        await engine.dispose()


@contextmanager
def _identity_service(folder: Path, clients: dict[str, list[str]], mutate: Mutate = unchanged,
                      scopes: tuple[str, ...] = PLATFORM_SCOPES) -> Iterator[tuple[str, Deployment]]:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    secrets, key = asyncio.run(_prepare_identity(folder, clients, scopes))
    deployment = Deployment(folder, key, secrets)
    app = create_identity(data_dir=folder, issuer=issuer, scopes=scopes, log_level="ERROR")
    with served(mutate(app, deployment), port) as url:
        yield url, deployment


@contextmanager
def _identity(folder: Path, mutate: Mutate) -> Iterator[Target]:
    with _identity_service(folder, {"suite": ["context:read"]}, mutate) as (url, deployment):
        yield Target(mim="identity", url=url, client_id="suite", client_secret=deployment.secrets["suite"])


def _context_app(folder: Path) -> App:
    return create_context(data_dir=folder, jsonld_remote=False, notification_poll_interval=0.1, log_level="ERROR")


@contextmanager
def _context(folder: Path, mutate: Mutate) -> Iterator[Target]:
    with served(mutate(_context_app(folder), Deployment(folder)), free_port()) as url:
        yield Target(mim="context", url=url, options={"notification_timeout": NOTIFICATION_TIMEOUT})


@contextmanager
def _marketplace(folder: Path, mutate: Mutate) -> Iterator[Target]:
    clients = {"publisher": ["marketplace:publish"], "consumer": ["marketplace:consume"], "grants": [GRANTS_SCOPE]}
    with _identity_service(folder / "identity", clients, scopes=(*PLATFORM_SCOPES, GRANTS_SCOPE)) as (issuer, parties):
        app = create_marketplace(data_dir=folder / "marketplace", auth="required", jwks_url=f"{issuer}/jwks",
                                 issuers=[issuer], log_level="ERROR")
        with served(mutate(app, Deployment(folder, parties.key, parties.secrets)), free_port()) as url:
            yield Target(mim="marketplace", url=url, client_id="publisher",
                         client_secret=parties.secrets["publisher"], token_url=f"{issuer}/token",
                         options={"consumer_client_id": "consumer", "consumer_client_secret": parties.secrets["consumer"],
                                  "grants_client_id": "grants", "grants_client_secret": parties.secrets["grants"]})


@contextmanager
def _permit_check(folder: Path, mutate: Mutate) -> Iterator[Target]:
    with served(_context_app(folder / "context"), free_port()) as context_url:
        app = create_permit_check(data_dir=folder / "permit", context_url=context_url, log_level="ERROR")
        with served(mutate(app, Deployment(folder)), free_port()) as url:
            yield Target(mim="permit-check", url=url)


CITY = "conformance-city"
GATEWAY_CLIENTS = {"suite": ["context:read", "context:write"], "no-read": ["marketplace:consume"]}


def expired_token(identity_url: str, client_secret: str, key: SigningKey) -> str:
    """A genuine token of the issuer, re-signed with its own key as expired 2 minutes ago (beyond
    any clock-skew leeway)."""
    answer = httpx.post(f"{identity_url}/token", data={"grant_type": "client_credentials"},
                        auth=("suite", client_secret), timeout=10)
    answer.raise_for_status()
    claims = jwt.decode(answer.json()["access_token"], key.jwk()).claims
    now = int(time.time())
    claims = {**claims, "iat": now - 420, "exp": now - 120, "jti": uuid.uuid4().hex}
    header = {"alg": key.alg, "typ": "at+jwt", "kid": key.kid}
    return jwt.encode(header, claims, key.jwk(), algorithms=[key.alg])


@contextmanager
def _gateway(folder: Path, mutate: Mutate) -> Iterator[Target]:
    """A city: identity, context and gateway, with a peer city that answers and one that is down."""
    with ExitStack() as stack:
        identity_url, parties = stack.enter_context(_identity_service(folder / "identity", GATEWAY_CLIENTS))
        context_url = stack.enter_context(served(_context_app(folder / "context"), free_port()))
        peer_url = stack.enter_context(served(_context_app(folder / "peer"), free_port()))
        down_url = f"http://127.0.0.1:{stack.enter_context(closed_port())}"
        peers = [{"name": "up-city", "base_url": peer_url, "issuer": "http://127.0.0.1:9/up", "timeout": 5},
                 {"name": "down-city", "base_url": down_url, "issuer": "http://127.0.0.1:9/down", "timeout": 5}]
        (folder / "peers.json").write_bytes(orjson.dumps(peers))
        settings = {"data_dir": folder / "gateway", "identity_url": identity_url, "context_url": context_url,
                    "city": CITY, "peers_file": folder / "peers.json", "rate_limit": None,
                    "peer_failure_threshold": 100, "log_level": "ERROR"}

        def rebuild(**changed: Any) -> App:
            return create_gateway(**{**settings, **changed})

        deployment = Deployment(folder, parties.key, parties.secrets, rebuild,
                                {"identity": identity_url, "context": context_url})
        url = stack.enter_context(served(mutate(rebuild(), deployment), free_port()))
        assert parties.key is not None
        options = {"wrong_scope_client_id": "no-read", "wrong_scope_client_secret": parties.secrets["no-read"],
                   "expired_token": expired_token(identity_url, parties.secrets["suite"], parties.key),
                   "down_peer": "down-city"}
        yield Target(mim="gateway", url=url, client_id="suite", client_secret=parties.secrets["suite"],
                     token_url="/identity/token", options=options)
