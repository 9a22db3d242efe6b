"""One query index row per attribute value element: an instance's own row goes when it has elements.

Before, every attribute instance had an instance row (``element`` NULL) besides one row per
element of its target value; now the element rows carry ``has_target`` themselves and only
instances without elements keep a row with ``element`` NULL, halving the rows a write adds.

Revision ID: context_0011
Revises: context_0008
"""

import sqlalchemy as sa
from alembic import op

revision = "context_0011"
down_revision = "context_0008"
branch_labels = None
depends_on = None

values = sa.table(
    "context_attribute_value",
    sa.column("tenant"), sa.column("entity_pk"), sa.column("instance"), sa.column("path"), sa.column("depth"),
    sa.column("kind"), sa.column("dataset_id"), sa.column("element"), sa.column("has_target", sa.Boolean),
)


def upgrade() -> None:
    elements = values.alias("elements")
    has_elements = sa.exists().where(
        elements.c.entity_pk == values.c.entity_pk, elements.c.instance == values.c.instance,
        elements.c.element.is_not(None))
    op.execute(values.delete().where(values.c.element.is_(None), has_elements))
    op.execute(values.update().where(values.c.element.is_not(None)).values(has_target=True))


def downgrade() -> None:
    columns = ["tenant", "entity_pk", "instance", "path", "depth", "kind", "dataset_id", "has_target"]
    first = sa.select(*(values.c[name] for name in columns)).where(values.c.element == 0)
    op.execute(values.insert().from_select(columns, first))
    op.execute(values.update().where(values.c.element.is_not(None)).values(has_target=None))
