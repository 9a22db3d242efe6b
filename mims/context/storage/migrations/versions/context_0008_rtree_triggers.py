"""SQLite keeps the R*Tree of geometry boxes itself: triggers on context_geo_box.

Every box row is mirrored into ``context_geo_rtree`` under the box's key when inserted and
removed with it (also when an entity's deletion cascades to its boxes), so writers insert and
delete boxes with one statement and the R*Tree can never drift from the boxes. No-op on
PostgreSQL.

Revision ID: context_0008
Revises: context_0002
"""

from alembic import op

revision = "context_0008"
down_revision = "context_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE TRIGGER context_geo_box_rtree_insert AFTER INSERT ON context_geo_box BEGIN "
        "INSERT INTO context_geo_rtree (id, min_x, max_x, min_y, max_y) "
        "VALUES (new.pk, new.min_x, new.max_x, new.min_y, new.max_y); END"
    )
    op.execute(
        "CREATE TRIGGER context_geo_box_rtree_delete AFTER DELETE ON context_geo_box BEGIN "
        "DELETE FROM context_geo_rtree WHERE id = old.pk; END"
    )
    # Boxes whose entity was deleted before the triggers existed left their R*Tree rows behind.
    op.execute("DELETE FROM context_geo_rtree WHERE id NOT IN (SELECT pk FROM context_geo_box)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TRIGGER context_geo_box_rtree_delete")
    op.execute("DROP TRIGGER context_geo_box_rtree_insert")
