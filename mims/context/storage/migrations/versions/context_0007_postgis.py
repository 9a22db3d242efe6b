"""PostGIS boxes for the geo-query prefilter (CIM 009 clause 4.10) on PostgreSQL.

Where the ``postgis`` extension can be had, ``context_geo_box`` gains ``box``, the stored
envelope of its ``min_x``/``min_y``/``max_x``/``max_y`` columns (WGS84), under a GiST index, so
the prefilter is one indexed ``&&``. Without PostGIS (or the right to create it) the table stays
as it is, with a warning: the float-column prefilter keeps working. SQLite keeps its R*Tree.

Revision ID: context_0007
Revises: context_0002
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = "context_0007"
down_revision = "context_0002"
branch_labels = None
depends_on = None

TABLE = "context_geo_box"
COLUMN = "box"
INDEX = "ix_context_geo_box_box"
ENVELOPE = "ST_MakeEnvelope(min_x, min_y, max_x, max_y, 4326)"

logger = logging.getLogger("mims.context.storage.migrations")


class _Polygon(sa.types.UserDefinedType):
    """PostGIS ``geometry(Polygon, 4326)``."""

    cache_ok = True

    def get_col_spec(self, **_kw: object) -> str:
        return "geometry(Polygon, 4326)"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _postgis(bind):
        return
    op.add_column(TABLE, sa.Column(COLUMN, _Polygon(), sa.Computed(ENVELOPE, persisted=True)))
    op.create_index(INDEX, TABLE, [COLUMN], postgresql_using="gist")


def downgrade() -> None:
    """Drops the column and its index; the extension stays, other schemas may use it."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    column = sa.text(
        "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(:table) AND attname = :column AND NOT attisdropped")
    if bind.execute(column, {"table": TABLE, "column": COLUMN}).first() is None:
        return
    op.drop_index(INDEX, table_name=TABLE)
    op.drop_column(TABLE, COLUMN)


def _postgis(bind: sa.Connection) -> bool:
    """Whether PostGIS is installed in this database, creating it when available and allowed."""
    installed = sa.text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
    if bind.execute(installed).first() is not None:
        return True
    available = sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
    if bind.execute(available).first() is None:
        logger.warning("PostGIS is not available: geo-queries prefilter on plain box columns")
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except sa.exc.DBAPIError as exc:
        logger.warning("PostGIS could not be created (%s): geo-queries prefilter on plain box columns",
                       exc.orig)
        return False
    return True
