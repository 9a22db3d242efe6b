"""Contracts and metering: offers, negotiations, agreements, access grants, usage records.

Revision ID: marketplace_0002
Revises: marketplace_0001

A grant keeps its remaining uses as a number that one conditional UPDATE decrements, so uses are
taken atomically on both engines; a usage record's record_id is unique, so a resent record is
counted once.
"""

import sqlalchemy as sa
from alembic import op

revision = "marketplace_0002"
down_revision = "marketplace_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "marketplace_offer",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("uid", sa.Text, nullable=False, unique=True),
        sa.Column("dataset_id", sa.String(32), nullable=False, index=True),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "marketplace_negotiation",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("provider_pid", sa.String(64), nullable=False, unique=True),
        sa.Column("consumer_pid", sa.Text, nullable=False),
        sa.Column("consumer", sa.String(128), nullable=False, index=True),
        sa.Column("dataset_id", sa.String(32), nullable=False),
        sa.Column("dataset", sa.Text, nullable=False),
        sa.Column("offer_id", sa.String(32), nullable=False),
        sa.Column("offer", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("history", sa.JSON, nullable=False),
        sa.Column("purpose", sa.Text),
        sa.Column("location", sa.JSON),
        sa.Column("agreement", sa.String(64)),
        sa.Column("grant_id", sa.String(64)),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "marketplace_agreement",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(64), nullable=False, unique=True),
        sa.Column("negotiation", sa.String(64), nullable=False),
        sa.Column("consumer", sa.String(128), nullable=False, index=True),
        sa.Column("dataset", sa.Text, nullable=False),
        sa.Column("document", sa.JSON, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True)),
        sa.Column("terminated", sa.DateTime(timezone=True)),
        sa.Column("reason", sa.Text),
    )
    op.create_table(
        "marketplace_grant",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("grant_id", sa.String(64), nullable=False, unique=True),
        sa.Column("agreement", sa.String(64), nullable=False, unique=True),
        sa.Column("client_id", sa.String(128), nullable=False, index=True),
        sa.Column("dataset", sa.Text, nullable=False),
        sa.Column("query", sa.JSON, nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_after", sa.DateTime(timezone=True)),
        sa.Column("remaining", sa.Integer),
        sa.Column("uses", sa.BigInteger, nullable=False),
        sa.Column("withdrawn", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "marketplace_usage_record",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("record_id", sa.Text, nullable=False, unique=True),
        sa.Column("agreement", sa.String(64), nullable=False, index=True),
        sa.Column("grant_id", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("subject", sa.Text),
        sa.Column("dataset", sa.Text, nullable=False),
        sa.Column("calls", sa.BigInteger, nullable=False),
        sa.Column("entities", sa.BigInteger, nullable=False),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("statuses", sa.JSON),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("gateway", sa.Text),
        sa.Column("received", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("usage_record", "grant", "agreement", "negotiation", "offer"):
        op.drop_table(f"marketplace_{table}")
