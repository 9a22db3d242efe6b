"""Revoked access tokens (RFC 7009), by ``jti``, in SQL (SQLite or PostgreSQL).

Access tokens are self-contained JWTs, so revoking one means remembering its ``jti`` until it
would have expired anyway; after that the entry says nothing the ``exp`` claim does not, and
is purged. The table is created by ``migrations/versions/identity_0002_*``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

metadata = sa.MetaData()

revoked_tokens = sa.Table(
    "identity_revoked_token",
    metadata,
    sa.Column("jti", sa.String(255), primary_key=True),
    sa.Column("client_id", sa.String(128), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
)


class RevocationStore(Protocol):
    async def revoke(self, jti: str, client_id: str, expires_at: datetime) -> None:
        """Remember ``jti`` as revoked until ``expires_at``; revoking twice is harmless."""
        ...

    async def is_revoked(self, jti: str) -> bool: ...


class SqlRevocationStore:
    """:class:`RevocationStore` on the MIM's engine; each revocation also purges expired entries."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._engine = engine
        self._clock = clock

    async def revoke(self, jti: str, client_id: str, expires_at: datetime) -> None:
        now = self._clock()
        await self.purge()
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    revoked_tokens.insert().values(jti=jti, client_id=client_id, expires_at=expires_at, revoked_at=now)
                )
        except sa.exc.IntegrityError:
            pass  # already revoked

    async def is_revoked(self, jti: str) -> bool:
        query = sa.select(revoked_tokens.c.jti).where(revoked_tokens.c.jti == jti)
        async with self._engine.connect() as connection:
            return (await connection.execute(query)).first() is not None

    async def purge(self) -> int:
        """Forget revocations of tokens that have expired; returns how many."""
        async with self._engine.begin() as connection:
            result = await connection.execute(revoked_tokens.delete().where(revoked_tokens.c.expires_at < self._clock()))
        return result.rowcount
