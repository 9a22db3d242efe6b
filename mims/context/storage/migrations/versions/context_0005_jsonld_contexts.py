"""Create the @context store of the context MIM (CIM 009 V1.8.1, clause 5.13).

Revision ID: context_0005
Revises: context_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "context_0005"
down_revision = "context_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "context_jsonld_context",
        sa.Column("local_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("document", sa.JSON().with_variant(JSONB, "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_usage", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hits", sa.BigInteger, nullable=False, server_default="0"),
        sa.UniqueConstraint("url", name="uq_context_jsonld_context_url"),
    )
    op.create_index("ix_context_jsonld_context_kind", "context_jsonld_context", ["kind", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_context_jsonld_context_kind", table_name="context_jsonld_context")
    op.drop_table("context_jsonld_context")
