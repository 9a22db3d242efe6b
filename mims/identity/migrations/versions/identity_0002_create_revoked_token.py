"""Create the identity_revoked_token table (RFC 7009 revocations of JWT access tokens).

Revision ID: identity_0002
Revises: identity_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0002"
down_revision = "identity_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_revoked_token",
        sa.Column("jti", sa.String(255), primary_key=True),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_identity_revoked_token_expires_at", "identity_revoked_token", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_identity_revoked_token_expires_at", table_name="identity_revoked_token")
    op.drop_table("identity_revoked_token")
