"""Identity's clients and signing keys in SQL (SQLite or PostgreSQL).

The tables are created by the migrations in ``migrations/versions``; this module only
describes them for queries, so the two must change together.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mims.identity.clients import Client, ClientExists
from mims.identity.keys import SigningKey

metadata = sa.MetaData()

clients = sa.Table(
    "identity_client",
    metadata,
    sa.Column("client_id", sa.String(128), primary_key=True),
    sa.Column("secret_hash", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("grant_types", sa.JSON, nullable=False),
    sa.Column("scopes", sa.JSON, nullable=False),
    sa.Column("token_endpoint_auth_method", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

signing_keys = sa.Table(
    "identity_signing_key",
    metadata,
    sa.Column("kid", sa.String(128), primary_key=True),
    sa.Column("alg", sa.String(16), nullable=False),
    sa.Column("private_jwk", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # Set when the key stops signing; rotation keeps it published for an overlap period.
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
                    clients.insert().values(
                        client_id=client.client_id,
                        secret_hash=client.secret_hash,
                        name=client.name,
                        grant_types=list(client.grant_types),
                        scopes=list(client.scopes),
                        token_endpoint_auth_method=client.token_endpoint_auth_method,
                        created_at=client.created_at,
                    )
                )
        except sa.exc.IntegrityError:
            raise ClientExists(client.client_id) from None

    async def get(self, client_id: str) -> Client | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(sa.select(clients).where(clients.c.client_id == client_id))).first()
        if row is None:
            return None
        found = row._mapping
        return Client(
            client_id=found["client_id"],
            secret_hash=found["secret_hash"],
            name=found["name"],
            grant_types=tuple(found["grant_types"]),
            scopes=tuple(found["scopes"]),
            token_endpoint_auth_method=found["token_endpoint_auth_method"],
            created_at=_utc(found["created_at"]),
        )


class SqlSigningKeyStore:
    """:class:`~mims.identity.keys.SigningKeyStore` on the MIM's engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

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
        query = (
            sa.select(signing_keys)
            .where(signing_keys.c.retired_at.is_(None))
            .order_by(signing_keys.c.created_at, signing_keys.c.kid)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_signing_key(row._mapping) for row in rows]


def _signing_key(row: Any) -> SigningKey:
    retired_at = row["retired_at"]
    return SigningKey(
        kid=row["kid"],
        alg=row["alg"],
        private_jwk=row["private_jwk"],
        created_at=_utc(row["created_at"]),
        retired_at=_utc(retired_at) if retired_at is not None else None,
    )


def _utc(moment: datetime) -> datetime:
    # SQLite keeps no offset; everything is stored in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
