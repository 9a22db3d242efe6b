"""Create the gateway_audit_record table: one row per data access through the gateway.

Revision ID: gateway_0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "gateway_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_audit_record",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=True),
        sa.Column("subject", sa.String(255), nullable=True),
        sa.Column("issuer", sa.Text, nullable=True),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("route", sa.String(128), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("entity_type", sa.Text, nullable=True),
        sa.Column("dataset", sa.Text, nullable=True),
        sa.Column("decision", sa.String(8), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("bytes_in", sa.BigInteger, nullable=False),
        sa.Column("bytes_out", sa.BigInteger, nullable=False),
        sa.Column("duration_ms", sa.Float, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
    )
    op.create_index("ix_gateway_audit_record_at", "gateway_audit_record", ["at"])
    op.create_index("ix_gateway_audit_record_client_id_at", "gateway_audit_record", ["client_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_gateway_audit_record_client_id_at", table_name="gateway_audit_record")
    op.drop_index("ix_gateway_audit_record_at", table_name="gateway_audit_record")
    op.drop_table("gateway_audit_record")
