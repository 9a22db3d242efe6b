"""Add an author to each note.

Revision ID: notes_0002
Revises: notes_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "notes_0002"
down_revision = "notes_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("note", sa.Column("author", sa.String(100), nullable=False, server_default="anonymous"))


def downgrade() -> None:
    op.drop_column("note", "author")
