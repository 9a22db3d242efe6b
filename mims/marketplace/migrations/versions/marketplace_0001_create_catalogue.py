"""Create the catalogue: datasets, their facet values, and a full-text index.

Revision ID: marketplace_0001
Revises:

Full text is SQLite FTS5 (a virtual table whose rowid is the dataset's seq, kept in step by the
storage) or PostgreSQL's own (a GIN index over ``to_tsvector('simple', search_text)``); the 'simple' configuration because
titles and keywords mix Dutch and English.
"""

import sqlalchemy as sa
from alembic import op

revision = "marketplace_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "marketplace_dataset",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("issued", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
        sa.Column("search_text", sa.Text, nullable=False),
        sa.Column("min_lon", sa.Float, nullable=True),
        sa.Column("min_lat", sa.Float, nullable=True),
        sa.Column("max_lon", sa.Float, nullable=True),
        sa.Column("max_lat", sa.Float, nullable=True),
    )
    op.create_index("ix_marketplace_dataset_bbox", "marketplace_dataset", ["min_lon", "max_lon", "min_lat", "max_lat"])
    op.create_table(
        "marketplace_dataset_facet",
        sa.Column("seq", sa.Integer, sa.ForeignKey("marketplace_dataset.seq", ondelete="CASCADE"), nullable=False),
        sa.Column("facet", sa.String(16), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("seq", "facet", "value"),
    )
    op.create_index("ix_marketplace_dataset_facet_value", "marketplace_dataset_facet", ["facet", "value"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE marketplace_dataset_fts USING fts5("
            "search_text, tokenize='unicode61 remove_diacritics 2')"
        )
    else:
        op.execute(
            "CREATE INDEX ix_marketplace_dataset_fts ON marketplace_dataset "
            "USING GIN (to_tsvector('simple', search_text))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE marketplace_dataset_fts")
    op.drop_table("marketplace_dataset_facet")
    op.drop_table("marketplace_dataset")
