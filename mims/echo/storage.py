"""Echo's messages in SQL (SQLite or PostgreSQL), behind the domain's ``MessageStore``.

The table is created by the migration in ``migrations/versions``; this module only
describes it for queries, so the two must change together.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mims.echo.domain import Message, Page

metadata = sa.MetaData()

messages = sa.Table(
    "echo_message",
    metadata,
    # Arrival order: ids are random, timestamps can tie.
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(32), nullable=False, unique=True),
    sa.Column("entity_id", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("entity", sa.JSON, nullable=False),
)


class SqlMessageStore:
    """:class:`~mims.echo.domain.MessageStore` on the MIM's SQLAlchemy engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def add(self, message: Message) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                messages.insert().values(
                    id=message.id,
                    entity_id=message.entity_id,
                    received_at=message.received_at,
                    entity=dict(message.entity),
                )
            )

    async def get(self, message_id: str) -> Message | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(sa.select(messages).where(messages.c.id == message_id))).first()
        return _message(row._mapping) if row else None

    async def page(self, page: Page) -> tuple[list[Message], int]:
        query = sa.select(messages).order_by(messages.c.seq).limit(page.limit).offset(page.offset)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = (await connection.execute(sa.select(sa.func.count()).select_from(messages))).scalar_one()
        return [_message(row._mapping) for row in rows], total


def _message(row: Any) -> Message:
    received_at: datetime = row["received_at"]
    if received_at.tzinfo is None:  # SQLite keeps no offset; everything is stored in UTC
        received_at = received_at.replace(tzinfo=UTC)
    return Message(id=row["id"], entity_id=row["entity_id"], received_at=received_at, entity=row["entity"])
