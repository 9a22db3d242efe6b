"""Initial access tokens (RFC 7591 section 3): who may register clients dynamically.

An administrator hands one to a vendor or developer; it admits registrations at ``/register``
until it expires or is used up, and bounds the scopes the clients registered with it receive.
Only its SHA-256 hash is stored: the token is 256 random bits, so a fast hash leaves nothing to
guess, and a copy of the database registers no client. Table from migration ``identity_0006``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mims.identity.user_storage import secret_hash
from mims.kit.storage import as_utc, begin_write

#: A day: long enough to hand over, short enough that a forgotten token stops working.
DEFAULT_LIFETIME = 86_400
#: Scopes only an administrator grants, never through an initial access token unless named.
ADMIN_ONLY_SCOPES = frozenset({"admin"})
#: Bounds of the terms, within what every database column holds.
MAX_USES = 1_000_000
MAX_LIFETIME = 366 * 86_400

metadata = sa.MetaData()

initial_access_tokens = sa.Table(
    "identity_initial_access_token",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("max_uses", sa.Integer, nullable=True),
    sa.Column("uses", sa.Integer, nullable=False),
)


class InvalidTokenTerms(ValueError):
    """The scopes, lifetime or number of uses asked for are not possible."""


@dataclass(frozen=True, slots=True)
class InitialAccessToken:
    token_hash: str
    #: The most a client registered with this token may be allowed.
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime
    #: None: any number of registrations until it expires.
    max_uses: int | None
    uses: int = 0


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new initial access token: the only time its value is available."""

    token: str
    record: InitialAccessToken


class InitialAccessTokenStore(Protocol):
    async def add(self, record: InitialAccessToken) -> None: ...

    async def spend(self, token_hash: str, now: datetime) -> InitialAccessToken | None:
        """Count one use of the token if it is unexpired and not used up; None otherwise."""
        ...

    async def refund(self, token_hash: str) -> None:
        """Give back a use spent on a registration that was then refused."""
        ...


def default_scopes(platform_scopes: Iterable[str]) -> tuple[str, ...]:
    """Every platform scope but ``admin``: what a token allows when no scopes are named."""
    return tuple(scope for scope in platform_scopes if scope not in ADMIN_ONLY_SCOPES)


async def issue_initial_access_token(
    store: InitialAccessTokenStore,
    *,
    platform_scopes: Iterable[str],
    scopes: Iterable[str] | None = None,
    expires_in: int = DEFAULT_LIFETIME,
    max_uses: int | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> IssuedToken:
    """A token admitting registrations for ``expires_in`` seconds (and at most ``max_uses``)."""
    offered = tuple(platform_scopes)
    chosen = tuple(dict.fromkeys(scopes)) if scopes is not None else default_scopes(offered)
    unknown = [scope for scope in chosen if scope not in offered]
    if unknown:
        raise InvalidTokenTerms(f"scopes {unknown} are not platform scopes")
    if not chosen:
        raise InvalidTokenTerms("an initial access token needs at least one scope")
    if not 1 <= expires_in <= MAX_LIFETIME:
        raise InvalidTokenTerms(f"expires_in must be 1..{MAX_LIFETIME} seconds")
    if max_uses is not None and not 1 <= max_uses <= MAX_USES:
        raise InvalidTokenTerms(f"max_uses must be 1..{MAX_USES}")
    token = secrets.token_urlsafe(32)
    now = clock()
    record = InitialAccessToken(
        token_hash=secret_hash(token),
        scopes=chosen,
        created_at=now,
        expires_at=now + timedelta(seconds=expires_in),
        max_uses=max_uses,
    )
    await store.add(record)
    return IssuedToken(token=token, record=record)


class SqlInitialAccessTokenStore:
    """:class:`InitialAccessTokenStore` on the MIM's engine; spending is one conditional UPDATE,
    so concurrent registrations (or replicas) never exceed ``max_uses``."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, record: InitialAccessToken) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                initial_access_tokens.insert().values(
                    token_hash=record.token_hash,
                    scopes=list(record.scopes),
                    created_at=record.created_at,
                    expires_at=record.expires_at,
                    max_uses=record.max_uses,
                    uses=record.uses,
                )
            )

    async def spend(self, token_hash: str, now: datetime) -> InitialAccessToken | None:
        table = initial_access_tokens
        usable = sa.and_(
            table.c.token_hash == token_hash,
            table.c.expires_at > now,
            sa.or_(table.c.max_uses.is_(None), table.c.uses < table.c.max_uses),
        )
        async with begin_write(self._engine) as connection:
            spent = await connection.execute(table.update().where(usable).values(uses=table.c.uses + 1))
            if spent.rowcount != 1:
                return None
            row = (await connection.execute(sa.select(table).where(table.c.token_hash == token_hash))).one()
        return _record(row._mapping)

    async def refund(self, token_hash: str) -> None:
        table = initial_access_tokens
        async with begin_write(self._engine) as connection:
            await connection.execute(
                table.update().where(table.c.token_hash == token_hash, table.c.uses > 0).values(uses=table.c.uses - 1)
            )


def _record(row: sa.RowMapping) -> InitialAccessToken:
    return InitialAccessToken(
        token_hash=row["token_hash"],
        scopes=tuple(row["scopes"]),
        created_at=as_utc(row["created_at"]),
        expires_at=as_utc(row["expires_at"]),
        max_uses=row["max_uses"],
        uses=row["uses"],
    )

