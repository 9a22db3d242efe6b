"""Clients for the authorization code grant: redirect URIs, and public clients (no secret).

Revision ID: identity_0003
Revises: identity_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0003"
down_revision = "identity_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("identity_client") as batch:
        batch.add_column(sa.Column("redirect_uris", sa.JSON, nullable=False, server_default="[]"))
        batch.alter_column("secret_hash", existing_type=sa.Text, nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM identity_client WHERE secret_hash IS NULL")
    with op.batch_alter_table("identity_client") as batch:
        batch.alter_column("secret_hash", existing_type=sa.Text, nullable=False)
        batch.drop_column("redirect_uris")
