"""Identity's clients and signing keys in SQL (SQLite or PostgreSQL).

The tables are created by the migrations in ``migrations/versions``; this module only
describes them for queries, so the two must change together.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mims.identity.clients import Client, ClientExists
from mims.identity.keys import SigningKey
from mims.kit.storage import as_utc, begin_write

metadata = sa.MetaData()

clients = sa.Table(
    "identity_client",
    metadata,
    sa.Column("client_id", sa.String(128), primary_key=True),
    sa.Column("secret_hash", sa.Text, nullable=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("grant_types", sa.JSON, nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("token_endpoint_auth_method", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("redirect_uris", sa.JSON, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
)

signing_keys = sa.Table(
    "identity_signing_key",
    metadata,
    sa.Column("kid", sa.String(128), primary_key=True),
    sa.Column("alg", sa.String(16), nullable=False),
    sa.Column("private_jwk", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # Set by rotation, when the key stops signing, to the end of its overlap period: the key
    # is published until then and neither published nor used afterwards.
    sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
)


class SqlClientStore:
    """:class:`~mims.identity.clients.ClientStore` on the MIM's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, client: Client) -> None:
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    clients.insert().values(client_id=client.client_id, created_at=client.created_at,
                                            **_terms(client))
                )
        except sa.exc.IntegrityError:
            raise ClientExists(client.client_id) from None

    async def replace(self, client: Client) -> bool:
        """Store new terms and secret for the client of ``client.client_id`` (its creation time
        stays); False if there is none. A running identity MIM serves the old record for at
        most its client cache's ttl."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                clients.update().where(clients.c.client_id == client.client_id).values(**_terms(client))
            )
        return result.rowcount > 0

    async def get(self, client_id: str) -> Client | None:
        if not _storable(client_id):
            return None
        async with self._engine.connect() as connection:
            row = (await connection.execute(sa.select(clients).where(clients.c.client_id == client_id))).first()
        return None if row is None else _client(row._mapping)

    async def delete(self, client_id: str) -> bool:
        if not _storable(client_id):
            return False
        async with self._engine.begin() as connection:
            result = await connection.execute(clients.delete().where(clients.c.client_id == client_id))
        return result.rowcount > 0

    async def all(self) -> list[Client]:
        """Every registered client, oldest first."""
        query = sa.select(clients).order_by(clients.c.created_at, clients.c.client_id)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_client(row._mapping) for row in rows]

    async def any(self) -> bool:
        """Whether any client is registered."""
        async with self._engine.connect() as connection:
            return (await connection.execute(sa.select(clients.c.client_id).limit(1))).first() is not None


def _terms(client: Client) -> dict[str, object]:
    """The columns of a client row besides its id and creation time."""
    return {"secret_hash": client.secret_hash, "name": client.name, "grant_types": list(client.grant_types),
            "scopes": list(client.scopes), "token_endpoint_auth_method": client.token_endpoint_auth_method,
            "redirect_uris": list(client.redirect_uris), "metadata": dict(client.metadata)}


class SqlSigningKeyStore:
    """:class:`~mims.identity.keys.SigningKeyStore` on the MIM's engine; ``clock`` decides which
    keys the overlap period still publishes."""

    def __init__(self, engine: AsyncEngine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._engine = engine
        self._clock = clock

    async def add(self, key: SigningKey) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                signing_keys.insert().values(
                    kid=key.kid,
                    alg=key.alg,
                    private_jwk=key.private_jwk,
                    created_at=key.created_at,
                    retired_at=key.retired_at,
                )
            )

    async def active(self) -> list[SigningKey]:
        retired_at = signing_keys.c.retired_at
        return await self._select(sa.or_(retired_at.is_(None), retired_at > self._clock()))

    async def signing(self) -> list[SigningKey]:
        return await self._select(signing_keys.c.retired_at.is_(None))

    async def rotate(self, key: SigningKey, retire_at: datetime) -> list[SigningKey]:
        signing = signing_keys.c.retired_at.is_(None)
        async with begin_write(self._engine) as connection:
            rows = (await connection.execute(sa.select(signing_keys).where(signing))).all()
            await connection.execute(signing_keys.update().where(signing).values(retired_at=retire_at))
            await connection.execute(
                signing_keys.insert().values(
                    kid=key.kid, alg=key.alg, private_jwk=key.private_jwk, created_at=key.created_at, retired_at=None
                )
            )
        return [_signing_key({**row._mapping, "retired_at": retire_at}) for row in rows]

    async def _select(self, condition: sa.ColumnElement[bool]) -> list[SigningKey]:
        query = sa.select(signing_keys).where(condition).order_by(signing_keys.c.created_at, signing_keys.c.kid)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_signing_key(row._mapping) for row in rows]


def _storable(client_id: str) -> bool:
    """Whether ``client_id`` could be a stored id: PostgreSQL refuses to even compare text with NUL."""
    return "\x00" not in client_id


def _client(row: Any) -> Client:
    return Client(
        client_id=row["client_id"],
        secret_hash=row["secret_hash"],
        name=row["name"],
        grant_types=tuple(row["grant_types"]),
        scopes=tuple(row["scopes"]),
        token_endpoint_auth_method=row["token_endpoint_auth_method"],
        created_at=as_utc(row["created_at"]),
        redirect_uris=tuple(row["redirect_uris"]),
        metadata=row["metadata"],
    )


def _signing_key(row: Any) -> SigningKey:
    retired_at = row["retired_at"]
    return SigningKey(
        kid=row["kid"],
        alg=row["alg"],
        private_jwk=row["private_jwk"],
        created_at=as_utc(row["created_at"]),
        retired_at=as_utc(retired_at) if retired_at is not None else None,
    )

