"""The context MIM's tables, as SQLAlchemy Core describes them.

The migrations in ``migrations/versions`` create them; this module only describes them, so the
two change together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData()
_PK = sa.BigInteger().with_variant(sa.Integer, "sqlite")

tenants = sa.Table(
    "context_tenant",
    metadata,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

entities = sa.Table(
    "context_entity",
    metadata,
    sa.Column("pk", _PK, primary_key=True, autoincrement=True),  # creation order
    sa.Column("tenant", sa.String(256), sa.ForeignKey("context_tenant.name"), nullable=False),
    sa.Column("id", sa.Text, nullable=False),
    sa.Column("doc", sa.JSON().with_variant(postgresql.JSONB, "postgresql"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
)

entity_types = sa.Table(
    "context_entity_type",
    metadata,
    sa.Column("entity_pk", _PK, sa.ForeignKey("context_entity.pk", ondelete="CASCADE"), primary_key=True),
    sa.Column("type", sa.Text, primary_key=True),
    sa.Column("tenant", sa.String(256), nullable=False),
)


def one_of(column: sa.ColumnElement[Any], values: Sequence[Any]) -> sa.ColumnElement[bool]:
    """``column IN (values)``; plain equality for one value, the common case of single-entity
    writes, which spares rendering an expanding IN list on every execution."""
    return column == values[0] if len(values) == 1 else column.in_(values)
