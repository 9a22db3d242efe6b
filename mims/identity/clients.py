"""Registered OAuth 2.0 clients (RFC 6749 section 2), in plain Python.

A client's secret is returned once, at registration; only its argon2 hash is kept, so a copy
of the database does not let anyone act as the client.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mims.identity.secret_cache import verified_secrets

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
#: Grant types a client may be registered for.
GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token", TOKEN_EXCHANGE)
#: Grants that act for a signed-in user and so need redirect URIs.
REDIRECT_GRANTS = frozenset({"authorization_code"})
#: Grants a public client (no secret, RFC 6749 section 2.1) may use: only with a user and PKCE.
PUBLIC_GRANTS = frozenset({"authorization_code", "refresh_token"})
#: RFC 7591 token_endpoint_auth_method values the token endpoint accepts from confidential clients.
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
#: RFC 7591 section 2: the method of a public client, which has no secret.
PUBLIC = "none"
#: RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")

_HASHER = PasswordHasher()
# Verified against when the client is unknown, so that an unknown client id costs as much
# time as a wrong secret and response times do not reveal which client ids exist.
_DECOY_HASH = _HASHER.hash(secrets.token_urlsafe(32))


class InvalidClientMetadata(ValueError):
    """The registration asks for something the platform does not offer (RFC 7591 section 3.2.2)."""


class ClientExists(ValueError):
    def __init__(self, client_id: str) -> None:
        super().__init__(f"a client {client_id!r} is already registered")
        self.client_id = client_id


@dataclass(frozen=True, slots=True)
class Client:
    client_id: str
    #: None for a public client.
    secret_hash: str | None
    name: str
    grant_types: tuple[str, ...]
    scopes: tuple[str, ...]
    token_endpoint_auth_method: str
    created_at: datetime
    redirect_uris: tuple[str, ...] = ()
    #: RFC 7591 section 2 metadata kept as registered (contacts, client_uri, software_id, ...).
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def public(self) -> bool:
        return self.secret_hash is None

    def check_secret(self, secret: str) -> bool:
        """argon2id, unless this secret verified against this hash moments ago (secret_cache.py)."""
        if self.secret_hash is None:
            return False
        if (self.client_id, self.secret_hash, secret) in verified_secrets:
            return True
        try:
            _HASHER.verify(self.secret_hash, secret)
        except (VerificationError, InvalidHashError):
            return False
        verified_secrets.add(self.client_id, self.secret_hash, secret)
        return True


@dataclass(frozen=True, slots=True)
class Registration:
    """A new client and its secret: the only time the secret is ever available."""

    client: Client
    #: None for a public client.
    client_secret: str | None


class ClientStore(Protocol):
    async def add(self, client: Client) -> None:
        """Store ``client``; raises :class:`ClientExists` if its id is taken."""
        ...

    async def get(self, client_id: str) -> Client | None: ...

    async def delete(self, client_id: str) -> bool:
        """Remove the client; False if there was none."""
        ...


def spend_decoy_verification() -> None:
    """Take as long as checking a real secret, for a client id that does not exist."""
    try:
        _HASHER.verify(_DECOY_HASH, "not the decoy secret")
    except VerificationError:
        pass


def check_redirect_uri(uri: str) -> None:
    """RFC 6749 section 3.1.2 and RFC 8252: absolute, no fragment; https, or http on a loopback
    host, or a private-use scheme (``com.example.app:/callback``) for native apps."""
    parts = urlsplit(uri)
    if not parts.scheme or "#" in uri or any(c.isspace() or not c.isprintable() for c in uri):
        raise InvalidClientMetadata(f"redirect URI {uri!r} must be an absolute URI without a fragment")
    if parts.scheme in ("http", "https") and not parts.hostname:
        raise InvalidClientMetadata(f"redirect URI {uri!r} has no host")
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise InvalidClientMetadata(f"redirect URI {uri!r} must use https (http only on a loopback host)")
    if parts.scheme not in ("http", "https") and "." not in parts.scheme:
        raise InvalidClientMetadata(f"redirect URI {uri!r}: a private-use scheme must be a reversed domain name")


def parse_scopes(text: str | None) -> list[str]:
    """The scope tokens of a space-separated scope parameter, duplicates removed, order kept."""
    return list(dict.fromkeys((text or "").split()))


async def register_client(store: ClientStore, **terms: Any) -> Registration:
    """A new client (:func:`new_client` with ``terms``) stored; :class:`ClientExists` if its id is taken."""
    registration = await new_client(**terms)
    await store.add(registration.client)
    return registration


async def new_client(
    *,
    name: str,
    scopes: Iterable[str],
    platform_scopes: Iterable[str],
    grant_types: Iterable[str] = ("client_credentials",),
    token_endpoint_auth_method: str = "client_secret_basic",
    redirect_uris: Iterable[str] = (),
    client_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Registration:
    """A client allowed ``scopes`` (a subset of ``platform_scopes``), checked and with its secret
    hashed, not stored yet: confidential, or public with ``token_endpoint_auth_method="none"``;
    ``metadata`` (RFC 7591 descriptive members) is kept as given. InvalidClientMetadata says what
    is wrong."""
    scopes, grant_types = tuple(dict.fromkeys(scopes)), tuple(dict.fromkeys(grant_types))
    redirect_uris = tuple(dict.fromkeys(redirect_uris))
    if not name.strip():
        raise InvalidClientMetadata("a client needs a name")
    if not name.isprintable():
        raise InvalidClientMetadata("a client's name must not contain control characters")
    unknown = [scope for scope in scopes if scope not in set(platform_scopes)]
    if unknown:
        raise InvalidClientMetadata(f"scopes {unknown} are not platform scopes")
    unsupported = [grant for grant in grant_types if grant not in GRANT_TYPES]
    if unsupported or not grant_types:
        raise InvalidClientMetadata(f"grant types must be among {list(GRANT_TYPES)}, not {list(grant_types)}")
    if token_endpoint_auth_method not in (*AUTH_METHODS, PUBLIC):
        raise InvalidClientMetadata(f"token_endpoint_auth_method must be one of {[*AUTH_METHODS, PUBLIC]}")
    public = token_endpoint_auth_method == PUBLIC
    if public and not set(grant_types) <= PUBLIC_GRANTS:
        raise InvalidClientMetadata(f"a public client (no secret) may only use the grants {sorted(PUBLIC_GRANTS)}")
    if "refresh_token" in grant_types and not REDIRECT_GRANTS & set(grant_types):
        raise InvalidClientMetadata("the refresh_token grant needs the authorization_code grant")
    if REDIRECT_GRANTS & set(grant_types) and not redirect_uris:
        raise InvalidClientMetadata("the authorization_code grant needs at least one redirect URI")
    for uri in redirect_uris:
        check_redirect_uri(uri)
    client_id = client_id if client_id is not None else secrets.token_urlsafe(16)
    # Basic authentication cannot carry a ':' in the user name (RFC 7617 section 2).
    if not SCOPE_TOKEN.fullmatch(client_id) or ":" in client_id or len(client_id) > 128:
        raise InvalidClientMetadata("client_id must be 1..128 visible ASCII characters without ':', '\"' or '\\'")
    secret = None if public else secrets.token_urlsafe(32)
    client = Client(
        client_id=client_id,
        # argon2 is slow on purpose: hash off the event loop, which serves other requests meanwhile.
        secret_hash=None if secret is None else await anyio.to_thread.run_sync(_HASHER.hash, secret),
        name=name,
        grant_types=grant_types,
        scopes=scopes,
        token_endpoint_auth_method=token_endpoint_auth_method,
        created_at=clock(),
        redirect_uris=redirect_uris,
        metadata=dict(metadata or {}),
    )
    return Registration(client=client, client_secret=secret)
