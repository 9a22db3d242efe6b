"""Create the context source registration and context source subscription tables.

Revision ID: context_0006
Revises: context_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "context_0006"
down_revision = "context_0001"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_DOC = sa.JSON().with_variant(JSONB, "postgresql")


def upgrade() -> None:
    for table in ("context_csource_registration", "context_csource_subscription"):
        op.create_table(
            table,
            sa.Column("pk", _PK, primary_key=True, autoincrement=True),
            sa.Column("tenant", sa.String(256), nullable=False),
            sa.Column("id", sa.Text, nullable=False),
            sa.Column("doc", _DOC, nullable=False),
            sa.UniqueConstraint("tenant", "id", name=f"uq_{table}_tenant_id"),
        )


def downgrade() -> None:
    op.drop_table("context_csource_subscription")
    op.drop_table("context_csource_registration")
