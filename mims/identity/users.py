"""People who sign in at ``/authorize``: users, their roles and passwords, in plain Python.

Only an argon2id hash of a password is kept. Signing in with an unknown username costs one
argon2 verification as well, so response times do not tell which usernames exist.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import anyio.to_thread
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

ROLES = ("citizen", "officer", "publisher", "admin")
#: OpenID Connect scopes: about the person, granted next to the platform scopes.
OIDC_SCOPES = ("openid", "profile", "email")
#: Which platform scopes each role may receive (``IdentitySettings.role_scopes``); ``admin`` gets
#: every platform scope, see :func:`scopes_of_roles`.
DEFAULT_ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    "citizen": ("context:read", "marketplace:consume", "permit:submit"),
    "officer": ("context:read", "permit:review"),
    "publisher": ("context:read", "context:write", "marketplace:publish", "marketplace:consume"),
    "admin": (),
}
MIN_PASSWORD_LENGTH = 10
#: Letters, digits and ``. _ - @``: safe in a URL, a log line and an HTML page.
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")

_HASHER = PasswordHasher()
_DECOY_HASH = _HASHER.hash(secrets.token_urlsafe(32))


class InvalidUser(ValueError):
    """A user cannot be registered like this; the message says why."""


class UserExists(ValueError):
    def __init__(self, username: str) -> None:
        super().__init__(f"a user {username!r} is already registered")
        self.username = username


@dataclass(frozen=True, slots=True)
class User:
    #: Random and stable: the ``sub`` of the user's tokens, whatever happens to the username.
    user_id: str
    username: str
    name: str
    email: str | None
    roles: tuple[str, ...]
    password_hash: str
    created_at: datetime

    def get_user_id(self) -> str:
        """authlib's name for the subject of tokens issued for this user."""
        return self.user_id

    def check_password(self, password: str) -> bool:
        try:
            return _HASHER.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


class UserStore(Protocol):
    async def add(self, user: User) -> None:
        """Store ``user``; raises :class:`UserExists` if the username is taken."""
        ...

    async def get(self, user_id: str) -> User | None: ...

    async def by_username(self, username: str) -> User | None: ...


def scopes_of_roles(
    roles: Iterable[str], role_scopes: Mapping[str, Iterable[str]], platform_scopes: Iterable[str]
) -> frozenset[str]:
    """The platform scopes a person with ``roles`` may receive; ``admin`` may receive them all."""
    roles = set(roles)
    if "admin" in roles:
        return frozenset(platform_scopes)
    return frozenset(scope for role in roles for scope in role_scopes.get(role, ()))


async def register_user(
    store: UserStore,
    *,
    username: str,
    password: str,
    roles: Iterable[str],
    name: str | None = None,
    email: str | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> User:
    """Register a user with ``roles`` (among :data:`ROLES`); the password is hashed off the loop."""
    roles = tuple(dict.fromkeys(roles))
    if not USERNAME.fullmatch(username):
        raise InvalidUser("a username is 1..64 letters, digits or . _ @ -, starting with a letter or digit")
    unknown = [role for role in roles if role not in ROLES]
    if unknown or not roles:
        raise InvalidUser(f"roles must be among {list(ROLES)}, at least one; unknown: {unknown}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidUser(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
        raise InvalidUser(f"{email!r} is not an email address")
    user = User(
        user_id=secrets.token_urlsafe(16),
        username=username,
        name=(name or username).strip() or username,
        email=email,
        roles=roles,
        password_hash=await anyio.to_thread.run_sync(_HASHER.hash, password),
        created_at=clock(),
    )
    await store.add(user)
    return user


async def authenticate(store: UserStore, username: str, password: str) -> User | None:
    """The user if ``password`` is theirs, else None, taking as long for unknown usernames."""
    user = await store.by_username(username) if USERNAME.fullmatch(username) else None
    if user is None:
        await anyio.to_thread.run_sync(_spend_decoy_verification, password)
        return None
    return user if await anyio.to_thread.run_sync(user.check_password, password) else None


def _spend_decoy_verification(password: str) -> None:
    try:
        _HASHER.verify(_DECOY_HASH, password)
    except VerificationError:
        pass
