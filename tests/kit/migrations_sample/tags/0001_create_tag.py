"""Create the tag table (a second MIM's history, to share one database with the notes).

Revision ID: tags_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "tags_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("tag", sa.Column("name", sa.String(50), primary_key=True))


def downgrade() -> None:
    op.drop_table("tag")
