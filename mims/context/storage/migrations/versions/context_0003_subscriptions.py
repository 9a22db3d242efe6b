"""Create the subscription, notification outbox and notification delivery tables of the context MIM.

Revision ID: context_0003
Revises: context_0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "context_0003"
down_revision = "context_0001"
branch_labels = None
depends_on = None

_PK = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_JSON = sa.JSON().with_variant(JSONB, "postgresql")
_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "context_subscription",
        sa.Column("pk", _PK, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(256), nullable=False),
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("doc", _JSON, nullable=False),
        sa.Column("contexts", _JSON, nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("modified_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=True),
        sa.Column("is_active", sa.Boolean, nullable=False),
        sa.Column("time_interval", sa.Float, nullable=True),
        sa.Column("next_periodic_at", _WHEN, nullable=True),
        sa.Column("throttled_until", _WHEN, nullable=True),
        sa.Column("times_sent", sa.Integer, nullable=False, server_default="0"),
        sa.Column("times_failed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_notification", _WHEN, nullable=True),
        sa.Column("last_success", _WHEN, nullable=True),
        sa.Column("last_failure", _WHEN, nullable=True),
        sa.Column("delivery_status", sa.String(16), nullable=True),
        sa.UniqueConstraint("tenant", "id", name="uq_context_subscription_tenant_id"),
    )
    op.create_index("ix_context_subscription_periodic", "context_subscription", ["next_periodic_at"])
    op.create_table(
        "context_notification_outbox",
        sa.Column("pk", _PK, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(256), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("entity_id", sa.Text, nullable=False),
        sa.Column("before", _JSON, nullable=True),
        sa.Column("after", _JSON, nullable=True),
        sa.Column("at", sa.String(40), nullable=False),
    )
    op.create_table(
        "context_notification_delivery",
        sa.Column("pk", _PK, primary_key=True, autoincrement=True),
        sa.Column(
            "subscription_pk", _PK, sa.ForeignKey("context_subscription.pk", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", _WHEN, nullable=False),
    )
    op.create_index("ix_context_notification_delivery_due", "context_notification_delivery", ["next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_context_notification_delivery_due", table_name="context_notification_delivery")
    op.drop_table("context_notification_delivery")
    op.drop_table("context_notification_outbox")
    op.drop_index("ix_context_subscription_periodic", table_name="context_subscription")
    op.drop_table("context_subscription")
