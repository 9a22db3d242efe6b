"""Harvested datasets and harvest sources in SQL, behind the domain's ``HarvestStore``.

Datasets live in the catalogue's own table (``catalogue_storage``: same search, same index),
found here by their original IRI and source; each harvested URL has one row in
``marketplace_harvest`` (migration ``marketplace_0003``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from mims.kit.storage import as_utc, begin_write
from mims.marketplace.catalogue_storage import SqlDatasetStore, datasets
from mims.marketplace.dcat import Dataset

metadata = sa.MetaData()

harvests = sa.Table(
    "marketplace_harvest",
    metadata,
    sa.Column("url", sa.String(2048), primary_key=True),
    sa.Column("catalogue", sa.String(2048)),
    sa.Column("harvested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("summary", sa.JSON, nullable=False),
)


class SqlHarvestStore:
    """:class:`~mims.marketplace.harvest.HarvestStore` on the MIM's SQLAlchemy engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._datasets = SqlDatasetStore(engine)

    async def by_iri(self, iri: str) -> Dataset | None:
        async with self._engine.connect() as connection:
            found = (await connection.execute(
                sa.select(datasets.c.id).where(datasets.c.original_iri == iri))).scalar_one_or_none()
        return None if found is None else await self._datasets.get(found)

    async def ids_from(self, source: str) -> list[str]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(sa.select(datasets.c.id).where(datasets.c.harvest_source == source))
        return [row[0] for row in rows]

    async def add(self, dataset: Dataset) -> None:
        await self._datasets.add(dataset)

    async def replace(self, dataset: Dataset) -> bool:
        return await self._datasets.replace(dataset)

    async def delete(self, dataset_id: str) -> bool:
        return await self._datasets.delete(dataset_id)

    async def record(self, url: str, catalogue: str | None, at: datetime, summary: Mapping[str, Any]) -> None:
        async with begin_write(self._engine) as connection:
            await connection.execute(harvests.delete().where(harvests.c.url == url))
            await connection.execute(
                harvests.insert().values(url=url, catalogue=catalogue, harvested_at=at, summary=dict(summary)))

    async def sources(self) -> list[tuple[str, str | None, datetime, Mapping[str, Any]]]:
        """Every harvested URL, most recently harvested first."""
        async with self._engine.connect() as connection:
            rows = await connection.execute(sa.select(harvests).order_by(harvests.c.harvested_at.desc()))
        return [(r.url, r.catalogue, as_utc(r.harvested_at), r.summary) for r in rows]
