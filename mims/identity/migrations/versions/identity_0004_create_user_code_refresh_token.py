"""Users, authorization codes and refresh tokens (authorization code grant, OpenID Connect).

Revision ID: identity_0004
Revises: identity_0003
"""

import sqlalchemy as sa
from alembic import op

revision = "identity_0004"
down_revision = "identity_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_user",
        sa.Column("user_id", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("email", sa.Text, nullable=True),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "identity_authorization_code",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("redirect_uri", sa.Text, nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("nonce", sa.Text, nullable=True),
        sa.Column("code_challenge", sa.String(128), nullable=True),
        sa.Column("code_challenge_method", sa.String(16), nullable=True),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("family_id", sa.String(64), nullable=True),
        sa.Column("access_jti", sa.String(255), nullable=True),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_identity_authorization_code_client_nonce", "identity_authorization_code", ["client_id", "nonce"]
    )
    op.create_table(
        "identity_refresh_token",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("family_id", sa.String(64), nullable=False),
        sa.Column("parent_hash", sa.String(64), nullable=True),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked", sa.Boolean, nullable=False),
        sa.Column("access_jti", sa.String(255), nullable=True),
        sa.Column("access_expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_identity_refresh_token_family_id", "identity_refresh_token", ["family_id"])


def downgrade() -> None:
    op.drop_index("ix_identity_refresh_token_family_id", table_name="identity_refresh_token")
    op.drop_table("identity_refresh_token")
    op.drop_index("ix_identity_authorization_code_client_nonce", table_name="identity_authorization_code")
    op.drop_table("identity_authorization_code")
    op.drop_table("identity_user")
