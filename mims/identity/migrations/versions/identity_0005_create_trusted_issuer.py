"""Create the identity_trusted_issuer table: the foreign issuers a city trusts, managed over HTTP.

Revision ID: identity_0005
Revises: identity_0004
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0005"
down_revision = "identity_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_trusted_issuer",
        sa.Column("issuer", sa.String(1024), primary_key=True),
        # The trust-list PPI's TrustedIssuer object, as validated when it was stored.
        sa.Column("entry", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("identity_trusted_issuer")
