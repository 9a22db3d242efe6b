"""Context source registration status (clause 5.2.9): how often each source was asked, and how it went.

Revision ID: context_0009
Revises: context_0006
"""

import sqlalchemy as sa
from alembic import op

revision = "context_0009"
down_revision = "context_0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "context_csource_status",
        sa.Column("tenant", sa.String(256), primary_key=True),
        sa.Column("registration_id", sa.Text, primary_key=True),
        sa.Column("times_sent", sa.Integer, nullable=False),
        sa.Column("times_failed", sa.Integer, nullable=False),
        sa.Column("last_success", sa.DateTime(timezone=True)),
        sa.Column("last_failure", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(8), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("context_csource_status")
