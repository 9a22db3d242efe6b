"""Create the stored permit checks: each decision with the plan and zoning it was computed from.

Revision ID: permit_check_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "permit_check_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "permit_check_decision",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("municipality", sa.String(64), nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.JSON, nullable=False),
        sa.Column("site", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("permit_check_decision")
