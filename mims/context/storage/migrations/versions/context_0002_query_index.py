"""Query indexes: attribute values and geometry boxes of every entity, backfilled.

Revision ID: context_0002
Revises: context_0001
"""

import sqlalchemy as sa
from alembic import op

from mims.context.storage import indexing
from mims.context.storage.migrations.backfill import backfill

revision = "context_0002"
down_revision = "context_0001"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "context_attribute_value",
        sa.Column("pk", _PK, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(256), nullable=False),
        sa.Column("entity_pk", _PK, sa.ForeignKey("context_entity.pk", ondelete="CASCADE"), nullable=False),
        sa.Column("instance", sa.Integer, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("depth", sa.SmallInteger, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("dataset_id", sa.Text),
        sa.Column("element", sa.Integer),
        sa.Column("has_target", sa.Boolean),
        sa.Column("num", sa.Float),
        sa.Column("flag", sa.Boolean),
        sa.Column("txt", sa.Text),
        sa.Column("dt", sa.String(32)),
        sa.Column("day", sa.String(10)),
        sa.Column("tod", sa.String(15)),
    )
    # Query Entities walks entities of a tenant in creation order and probes the values of each
    # candidate (correlated EXISTS): the page ends after `limit` matches, without sorting.
    op.create_index("ix_context_entity_tenant_pk", "context_entity", ["tenant", "pk"])
    op.create_index("ix_context_attribute_value_entity", "context_attribute_value", ["entity_pk", "path", "instance"])
    op.create_index("ix_context_attribute_value_names", "context_attribute_value", ["tenant", "depth", "path"])
    op.create_table(
        "context_geo_box",
        sa.Column("pk", _PK, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(256), nullable=False),
        sa.Column("entity_pk", _PK, sa.ForeignKey("context_entity.pk", ondelete="CASCADE"), nullable=False),
        sa.Column("attribute", sa.Text, nullable=False),
        sa.Column("min_x", sa.Float, nullable=False),
        sa.Column("min_y", sa.Float, nullable=False),
        sa.Column("max_x", sa.Float, nullable=False),
        sa.Column("max_y", sa.Float, nullable=False),
    )
    op.create_index("ix_context_geo_box_entity", "context_geo_box", ["entity_pk"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE context_geo_rtree USING rtree(id, min_x, max_x, min_y, max_y)")
    else:
        op.create_index("ix_context_geo_box_x", "context_geo_box", ["attribute", "min_x", "max_x"])
        op.create_index("ix_context_geo_box_y", "context_geo_box", ["attribute", "min_y", "max_y"])
    backfill(op.get_bind(), indexing.backfill)


def downgrade() -> None:
    op.drop_index("ix_context_entity_tenant_pk", table_name="context_entity")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE context_geo_rtree")
    op.drop_table("context_geo_box")
    op.drop_table("context_attribute_value")
