"""Create the tenant, entity and entity type tables of the context MIM.

Revision ID: context_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "context_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "context_tenant",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "context_entity",
        sa.Column("pk", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(256), sa.ForeignKey("context_tenant.name"), nullable=False),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("doc", sa.JSON().with_variant(JSONB, "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("tenant", "id", name="uq_context_entity_tenant_id"),
    )
    op.create_table(
        "context_entity_type",
        sa.Column(
            "entity_pk",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            sa.ForeignKey("context_entity.pk", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("type", sa.Text, primary_key=True),
        sa.Column("tenant", sa.String(256), nullable=False),
    )
    op.create_index("ix_context_entity_type_tenant_type", "context_entity_type", ["tenant", "type", "entity_pk"])


def downgrade() -> None:
    op.drop_index("ix_context_entity_type_tenant_type", table_name="context_entity_type")
    op.drop_table("context_entity_type")
    op.drop_table("context_entity")
    op.drop_table("context_tenant")
