"""Who submitted each check (the access token's subject and issuer), so that a caller reads its
own checks only; checks stored before have none and are for reviewers only.

Revision ID: permit_check_0002
Revises: permit_check_0001
"""

import sqlalchemy as sa
from alembic import op

revision = "permit_check_0002"
down_revision = "permit_check_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("permit_check_decision") as batch:
        batch.add_column(sa.Column("submitter", sa.Text, nullable=True))
        batch.add_column(sa.Column("submitter_issuer", sa.Text, nullable=True))
    op.create_index("ix_permit_check_decision_submitter", "permit_check_decision", ["submitter", "seq"])


def downgrade() -> None:
    op.drop_index("ix_permit_check_decision_submitter", "permit_check_decision")
    with op.batch_alter_table("permit_check_decision") as batch:
        batch.drop_column("submitter_issuer")
        batch.drop_column("submitter")
