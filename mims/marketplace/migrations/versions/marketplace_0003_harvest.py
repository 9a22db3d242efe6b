"""Harvesting: datasets taken from other DCAT-AP catalogues, and the sources harvested.

Revision ID: marketplace_0003
Revises: marketplace_0001

A harvested dataset keeps the IRI it has at its source (``original_iri``, unique: one copy per
IRI) and names the catalogue it came from (``harvest_source``); both are NULL for local datasets.
``marketplace_harvest`` has one row per harvested URL: when, and what the last run did.
"""

import sqlalchemy as sa
from alembic import op

revision = "marketplace_0003"
down_revision = "marketplace_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("marketplace_dataset", sa.Column("original_iri", sa.String(2048), nullable=True))
    op.add_column("marketplace_dataset", sa.Column("harvest_source", sa.String(2048), nullable=True))
    op.create_index("ix_marketplace_dataset_original_iri", "marketplace_dataset", ["original_iri"], unique=True)
    op.create_table(
        "marketplace_harvest",
        sa.Column("url", sa.String(2048), primary_key=True),
        sa.Column("catalogue", sa.String(2048), nullable=True),
        sa.Column("harvested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("marketplace_harvest")
    op.drop_index("ix_marketplace_dataset_original_iri", "marketplace_dataset")
    op.drop_column("marketplace_dataset", "harvest_source")
    op.drop_column("marketplace_dataset", "original_iri")
