"""Registered OAuth 2.0 clients (RFC 6749 section 2), in plain Python.

A client's secret is returned once, at registration; only its argon2 hash is kept, so a copy
of the database does not let anyone act as the client.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

#: Grant types a client may be registered for (this increment implements only this one).
GRANT_TYPES = ("client_credentials",)
#: RFC 7591 token_endpoint_auth_method values the token endpoint accepts.
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
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
    secret_hash: str
    name: str
    grant_types: tuple[str, ...]
    scopes: tuple[str, ...]
    token_endpoint_auth_method: str
    created_at: datetime

    def check_secret(self, secret: str) -> bool:
        try:
            return _HASHER.verify(self.secret_hash, secret)
        except (VerificationError, InvalidHashError):
            return False


@dataclass(frozen=True, slots=True)
class Registration:
    """A new client and its secret: the only time the secret is ever available."""

    client: Client
    client_secret: str


class ClientStore(Protocol):
    async def add(self, client: Client) -> None:
        """Store ``client``; raises :class:`ClientExists` if its id is taken."""
        ...

    async def get(self, client_id: str) -> Client | None: ...


def spend_decoy_verification() -> None:
    """Take as long as checking a real secret, for a client id that does not exist."""
    try:
        _HASHER.verify(_DECOY_HASH, "not the decoy secret")
    except VerificationError:
        pass


def parse_scopes(text: str | None) -> list[str]:
    """The scope tokens of a space-separated scope parameter, duplicates removed, order kept."""
    return list(dict.fromkeys((text or "").split()))


async def register_client(
    store: ClientStore,
    *,
    name: str,
    scopes: Iterable[str],
    platform_scopes: Iterable[str],
    grant_types: Iterable[str] = GRANT_TYPES,
    token_endpoint_auth_method: str = "client_secret_basic",
    client_id: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Registration:
    """Register a confidential client allowed ``scopes`` (a subset of ``platform_scopes``)."""
    scopes, grant_types = tuple(dict.fromkeys(scopes)), tuple(dict.fromkeys(grant_types))
    if not name.strip():
        raise InvalidClientMetadata("a client needs a name")
    unknown = [scope for scope in scopes if scope not in set(platform_scopes)]
    if unknown:
        raise InvalidClientMetadata(f"scopes {unknown} are not platform scopes")
    unsupported = [grant for grant in grant_types if grant not in GRANT_TYPES]
    if unsupported or not grant_types:
        raise InvalidClientMetadata(f"grant types must be among {list(GRANT_TYPES)}, not {list(grant_types)}")
    if token_endpoint_auth_method not in AUTH_METHODS:
        raise InvalidClientMetadata(f"token_endpoint_auth_method must be one of {list(AUTH_METHODS)}")
    client_id = client_id if client_id is not None else secrets.token_urlsafe(16)
    # Basic authentication cannot carry a ':' in the user name (RFC 7617 section 2).
    if not SCOPE_TOKEN.fullmatch(client_id) or ":" in client_id or len(client_id) > 128:
        raise InvalidClientMetadata("client_id must be 1..128 visible ASCII characters without ':', '\"' or '\\'")
    secret = secrets.token_urlsafe(32)
    client = Client(
        client_id=client_id,
        secret_hash=_HASHER.hash(secret),
        name=name,
        grant_types=grant_types,
        scopes=scopes,
        token_endpoint_auth_method=token_endpoint_auth_method,
        created_at=clock(),
    )
    await store.add(client)
    return Registration(client=client, client_secret=secret)
