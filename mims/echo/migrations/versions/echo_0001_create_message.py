"""Create the echo_message table.

Revision ID: echo_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "echo_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "echo_message",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("entity_id", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entity", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("echo_message")
