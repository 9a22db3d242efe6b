"""Create the temporal entity, temporal entity type and attribute instance tables (temporal API),
and start the history of the entities already stored with their current attribute instances.

Revision ID: context_0004
Revises: context_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from mims.context.storage import temporal
from mims.context.storage.migrations.backfill import backfill

revision = "context_0004"
down_revision = "context_0001"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_JSON = sa.JSON().with_variant(JSONB, "postgresql")


def upgrade() -> None:
    op.create_table(
        "context_temporal_entity",
        sa.Column("pk", _PK, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(256), nullable=False),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("doc", _JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant", "id", name="uq_context_temporal_entity_tenant_id"),
    )
    op.create_table(
        "context_temporal_entity_type",
        sa.Column("entity_pk", _PK, sa.ForeignKey("context_temporal_entity.pk", ondelete="CASCADE"), primary_key=True),
        sa.Column("type", sa.Text, primary_key=True),
        sa.Column("tenant", sa.String(256), nullable=False),
    )
    op.create_index(
        "ix_context_temporal_entity_type_tenant_type", "context_temporal_entity_type", ["tenant", "type", "entity_pk"]
    )
    op.create_table(
        "context_temporal_instance",
        sa.Column("pk", _PK, primary_key=True, autoincrement=True),
        sa.Column("entity_pk", _PK, sa.ForeignKey("context_temporal_entity.pk", ondelete="CASCADE"), nullable=False),
        sa.Column("attribute", sa.Text, nullable=False),
        sa.Column("dataset_id", sa.Text, nullable=False),
        sa.Column("instance_id", sa.Text, nullable=False),
        sa.Column("doc", _JSON, nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True)),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.UniqueConstraint("instance_id", name="uq_context_temporal_instance_instance_id"),
    )
    # Time-range reads: per entity and attribute, ordered by the queried timestamp.
    for column in ("observed_at", "created_at", "modified_at", "deleted_at"):
        op.create_index(
            f"ix_context_temporal_instance_{column}", "context_temporal_instance", ["entity_pk", "attribute", column]
        )
    backfill(op.get_bind(), temporal.backfill)


def downgrade() -> None:
    for column in ("observed_at", "created_at", "modified_at", "deleted_at"):
        op.drop_index(f"ix_context_temporal_instance_{column}", table_name="context_temporal_instance")
    op.drop_table("context_temporal_instance")
    op.drop_index("ix_context_temporal_entity_type_tenant_type", table_name="context_temporal_entity_type")
    op.drop_table("context_temporal_entity_type")
    op.drop_table("context_temporal_entity")
