"""The catalogue in SQL (SQLite or PostgreSQL), behind the domain's ``DatasetStore``.

Each dataset row carries, besides the publisher's document, what search filters on: its text,
its bounding box, and one row per facet value in ``marketplace_dataset_facet``, so facet counts
are one GROUP BY over the matching datasets. Full text is FTS5 on SQLite and ``to_tsvector`` /
``websearch_to_tsquery`` on PostgreSQL (see the migration). Tables are created by the migration
in ``migrations/versions``; this module only describes them, so the two change together.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from mims.kit.storage import as_utc, begin_write, insert_rows
from mims.marketplace.dcat import FACETS, Dataset, SearchQuery, SearchResult

metadata = sa.MetaData()

datasets = sa.Table(
    "marketplace_dataset",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(32), nullable=False, unique=True),
    sa.Column("document", sa.JSON, nullable=False),
    sa.Column("issued", sa.DateTime(timezone=True), nullable=False),
    sa.Column("modified", sa.DateTime(timezone=True), nullable=False),
    sa.Column("search_text", sa.Text, nullable=False),
    sa.Column("min_lon", sa.Float),
    sa.Column("min_lat", sa.Float),
    sa.Column("max_lon", sa.Float),
    sa.Column("max_lat", sa.Float),
)

facets = sa.Table(
    "marketplace_dataset_facet",
    metadata,
    sa.Column("seq", sa.Integer, sa.ForeignKey("marketplace_dataset.seq", ondelete="CASCADE"), primary_key=True),
    sa.Column("facet", sa.String(16), primary_key=True),
    sa.Column("value", sa.Text, primary_key=True),
)

# Web-search syntax, as PostgreSQL's websearch_to_tsquery reads it: words (all must occur),
# "quoted phrases", `or` between alternatives, and -excluded words or phrases.
_SEARCH_TOKEN = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')
_WORD = re.compile(r"\w+")


class SqlDatasetStore:
    """:class:`~mims.marketplace.dcat.DatasetStore` on the MIM's SQLAlchemy engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"

    async def add(self, dataset: Dataset) -> None:
        async with begin_write(self._engine) as connection:
            result = await connection.execute(datasets.insert().values(id=dataset.id, **_columns(dataset)))
            await self._index(connection, result.inserted_primary_key[0], dataset)

    async def replace(self, dataset: Dataset) -> bool:
        async with begin_write(self._engine) as connection:
            seq = (
                await connection.execute(
                    datasets.update()
                    .where(datasets.c.id == dataset.id)
                    .values(**_columns(dataset))
                    .returning(datasets.c.seq)
                )
            ).scalar_one_or_none()
            if seq is None:
                return False
            await self._unindex(connection, seq)
            await self._index(connection, seq, dataset)
        return True

    async def get(self, dataset_id: str) -> Dataset | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(sa.select(datasets).where(datasets.c.id == dataset_id))).first()
        return _dataset(row._mapping) if row else None

    async def delete(self, dataset_id: str) -> bool:
        async with begin_write(self._engine) as connection:
            seq = (
                await connection.execute(
                    datasets.delete().where(datasets.c.id == dataset_id).returning(datasets.c.seq)
                )
            ).scalar_one_or_none()
            if seq is None:
                return False
            if self._sqlite:
                await connection.execute(sa.text("DELETE FROM marketplace_dataset_fts WHERE rowid = :seq"), {"seq": seq})
        return True

    async def all(self) -> list[Dataset]:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(sa.select(datasets).order_by(datasets.c.seq))).all()
        return [_dataset(row._mapping) for row in rows]

    async def search(self, query: SearchQuery) -> SearchResult:
        matching = self._matching(query)
        page = (
            sa.select(datasets)
            .where(datasets.c.seq.in_(matching))
            .order_by(datasets.c.seq)
            .limit(query.limit)
            .offset(query.offset)
        )
        counts = (
            sa.select(facets.c.facet, facets.c.value, sa.func.count().label("n"))
            .where(facets.c.seq.in_(matching))
            .group_by(facets.c.facet, facets.c.value)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(page)).all()
            total = (await connection.execute(sa.select(sa.func.count()).select_from(matching.subquery()))).scalar_one()
            facet_rows = (await connection.execute(counts)).all()
        found: dict[str, list[tuple[str, int]]] = {name: [] for name in FACETS}
        for facet, value, count in facet_rows:
            found[facet].append((value, count))
        for values in found.values():
            values.sort(key=lambda item: (-item[1], item[0]))
        return SearchResult(query=query, total=total, items=[_dataset(r._mapping) for r in rows], facets=found)

    def _matching(self, query: SearchQuery) -> sa.Select[Any]:
        """The seqs of the datasets the query selects (text, facet filters, box)."""
        selected = sa.select(datasets.c.seq)
        if query.text is not None:
            selected = selected.where(self._text_match(query.text))
        for facet, values in query.filters.items():
            for value in values:
                tagged = sa.select(facets.c.seq).where(facets.c.facet == facet, facets.c.value == value)
                selected = selected.where(datasets.c.seq.in_(tagged))
        if query.bbox is not None:
            box = query.bbox
            selected = selected.where(
                datasets.c.min_lon <= box.max_lon,
                datasets.c.max_lon >= box.min_lon,
                datasets.c.min_lat <= box.max_lat,
                datasets.c.max_lat >= box.min_lat,
            )
        return selected

    def _text_match(self, text: str) -> sa.ColumnElement[bool]:
        if not self._sqlite:
            return sa.func.to_tsvector(sa.literal_column("'simple'"), datasets.c.search_text).op("@@")(
                sa.func.websearch_to_tsquery(sa.literal_column("'simple'"), text)
            )
        wanted, unwanted = _fts5_query(text)
        condition: sa.ColumnElement[bool] = datasets.c.seq.in_(_fts5_rowids(wanted)) if wanted else sa.true()
        for phrase in unwanted:
            condition = sa.and_(condition, datasets.c.seq.not_in(_fts5_rowids(phrase)))
        return condition if wanted or unwanted else sa.false()

    async def _index(self, connection: AsyncConnection, seq: int, dataset: Dataset) -> None:
        await insert_rows(
            connection, facets, [{"seq": seq, "facet": f, "value": v} for f, v in dataset.facet_values()]
        )
        if self._sqlite:
            await connection.execute(
                sa.text("INSERT INTO marketplace_dataset_fts (rowid, search_text) VALUES (:seq, :text)"),
                {"seq": seq, "text": dataset.text()},
            )

    async def _unindex(self, connection: AsyncConnection, seq: int) -> None:
        await connection.execute(facets.delete().where(facets.c.seq == seq))
        if self._sqlite:
            await connection.execute(sa.text("DELETE FROM marketplace_dataset_fts WHERE rowid = :seq"), {"seq": seq})


def _fts5_query(text: str) -> tuple[str, list[str]]:
    """Web-search ``text`` as an FTS5 expression of what must match, and the phrases that must not.

    FTS5's own syntax is not for end users (a stray quote is an error, ``NOT`` an operator), so
    every phrase is rebuilt from its words and quoted.
    """
    groups: list[list[str]] = [[]]
    unwanted: list[str] = []
    for quote_minus, quoted, minus, bare in _SEARCH_TOKEN.findall(text):
        if not quoted and bare.lower() == "or":
            groups.append([])
            continue
        words = _WORD.findall(quoted or bare)
        if not words:
            continue
        phrase = '"' + " ".join(words) + '"'
        (unwanted if (quote_minus or minus) else groups[-1]).append(phrase)
    alternatives = ["(" + " AND ".join(group) + ")" for group in groups if group]
    return " OR ".join(alternatives), unwanted


def _fts5_rowids(expression: str) -> sa.Select[Any]:
    fts = sa.table("marketplace_dataset_fts", sa.column("rowid"))
    return sa.select(fts.c.rowid).where(sa.literal_column("marketplace_dataset_fts").op("MATCH")(expression))


def _columns(dataset: Dataset) -> dict[str, Any]:
    box = dataset.bbox
    return {
        "document": dict(dataset.document),
        "issued": dataset.issued,
        "modified": dataset.modified,
        "search_text": dataset.text(),
        "min_lon": box.min_lon if box else None,
        "min_lat": box.min_lat if box else None,
        "max_lon": box.max_lon if box else None,
        "max_lat": box.max_lat if box else None,
    }


def _dataset(row: Any) -> Dataset:
    return Dataset(
        id=row["id"], document=row["document"], issued=as_utc(row["issued"]), modified=as_utc(row["modified"])
    )
