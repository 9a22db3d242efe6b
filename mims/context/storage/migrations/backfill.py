"""Derive new tables from the entities already stored, for revisions that add derived data."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

BATCH = 500


def backfill(bind: Connection, derive: Callable[[Connection, Sequence[Any]], None]) -> None:
    """Call ``derive(bind, rows)`` over every stored entity (pk, tenant, doc), in pk order, a batch at a time.

    The entity table is described here as it was when derived data was introduced, not imported,
    so old revisions keep working when the live table description changes.
    """
    entity = sa.table("context_entity", sa.column("pk"), sa.column("tenant"), sa.column("doc", sa.JSON))
    last = 0
    while True:
        rows = bind.execute(
            sa.select(entity.c.pk, entity.c.tenant, entity.c.doc)
            .where(entity.c.pk > last).order_by(entity.c.pk).limit(BATCH)
        ).all()
        if not rows:
            return
        derive(bind, rows)
        last = rows[-1].pk
