"""Dynamic client registration (RFC 7591): initial access tokens, and the clients' own metadata.

Revision ID: identity_0006
Revises: identity_0005
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0006"
down_revision = "identity_0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_initial_access_token",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("scopes", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_uses", sa.Integer, nullable=True),
        sa.Column("uses", sa.Integer, nullable=False, server_default="0"),
    )
    with op.batch_alter_table("identity_client") as batch:
        batch.add_column(sa.Column("metadata", sa.JSON, nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("identity_client") as batch:
        batch.drop_column("metadata")
    op.drop_table("identity_initial_access_token")
