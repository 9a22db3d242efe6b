"""Only deleted attribute instances go into the deletedAt index of the temporal history.

Every recorded instance was indexed by ``deleted_at``, NULL on all but deletions; the partial
index holds the deletions alone, so recording a change no longer pays for it.

Revision ID: context_0010
Revises: context_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "context_0010"
down_revision = "context_0004"
branch_labels = None
depends_on = None

TABLE = "context_temporal_instance"
INDEX = "ix_context_temporal_instance_deleted_at"
COLUMNS = ["entity_pk", "attribute", "deleted_at"]


def upgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    deleted = sa.text("deleted_at IS NOT NULL")
    op.create_index(INDEX, TABLE, COLUMNS, sqlite_where=deleted, postgresql_where=deleted)


def downgrade() -> None:
    op.drop_index(INDEX, table_name=TABLE)
    op.create_index(INDEX, TABLE, COLUMNS)
