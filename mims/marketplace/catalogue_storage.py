"""The catalogue in SQL (SQLite or PostgreSQL), behind the domain's ``DatasetStore``.

Each dataset row carries, besides the publisher's document, what search filters on: its text,
its bounding box, and one row per facet value in ``marketplace_dataset_facet_value``, which names
the value by an integer id (``marketplace_facet_value``, with the number of datasets that have
it, kept by triggers). Facet counts are one GROUP BY of small integers over the matching datasets,
or over the others when most match, subtracted from the kept numbers. Full text is FTS5 on SQLite
and a stored ``to_tsvector`` with ``websearch_to_tsquery`` on PostgreSQL. Tables are created by the
migrations in ``migrations/versions``; this module only describes them, so the two change together.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
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
    # Harvested datasets (migration marketplace_0003): the IRI they keep, the catalogue they came from.
    sa.Column("original_iri", sa.String(2048)),
    sa.Column("harvest_source", sa.String(2048)),
)

facet_values = sa.Table(
    "marketplace_facet_value",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("facet", sa.String(16), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    # How many datasets have the value: kept by triggers (see the migration), never by hand.
    sa.Column("datasets", sa.Integer, nullable=False, server_default="0"),
    sa.UniqueConstraint("facet", "value", name="uq_marketplace_facet_value"),
)

# A dataset's facet values (migration marketplace_0004); indexed by (value_id, seq) too.
tags = sa.Table(
    "marketplace_dataset_facet_value",
    metadata,
    sa.Column("seq", sa.Integer, sa.ForeignKey("marketplace_dataset.seq", ondelete="CASCADE"), primary_key=True),
    sa.Column("value_id", sa.Integer, sa.ForeignKey("marketplace_facet_value.id"), primary_key=True),
    sa.Index("ix_marketplace_dataset_facet_value_value", "value_id", "seq"),
    sqlite_with_rowid=False,
)

# Web-search syntax, as PostgreSQL's websearch_to_tsquery reads it: words (all must occur),
# "quoted phrases", `or` between alternatives, and -excluded words or phrases.
_SEARCH_TOKEN = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')
_WORD = re.compile(r"\w+")

# pg_advisory_xact_lock(int, int) key of the writers of facet values, as the trigger of
# migration marketplace_0004 takes it.
_FACET_WRITERS_LOCK = (zlib.crc32(b"marketplace") & 0x7FFFFFFF, zlib.crc32(b"facet_value") & 0x7FFFFFFF)


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
        if "\x00" in dataset_id:  # no id holds one, and PostgreSQL text cannot
            return None
        async with self._engine.connect() as connection:
            row = (await connection.execute(sa.select(datasets).where(datasets.c.id == dataset_id))).first()
        return _dataset(row._mapping) if row else None

    async def delete(self, dataset_id: str) -> bool:
        if "\x00" in dataset_id:
            return False
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
        selected = self._matching(query)
        # Materialized: computed once per statement, never re-evaluated row by row under a LIMIT.
        matching = None if selected is None else selected.cte("matching").prefix_with("MATERIALIZED")
        everyone = sa.select(sa.func.count()).select_from(datasets).scalar_subquery()
        counted = everyone if matching is None else sa.select(sa.func.count()).select_from(matching).scalar_subquery()
        # The page carries the total and the catalogue's size: one evaluation of the matching set.
        page = (
            sa.select(datasets, counted.label("oup_total"), everyone.label("oup_size"))
            .order_by(datasets.c.seq)
            .limit(query.limit)
            .offset(query.offset)
        )
        if matching is not None:
            page = page.where(datasets.c.seq.in_(sa.select(matching.c.seq)))
        async with self._engine.connect() as connection:
            if not self._sqlite:  # one snapshot for total, page and counts (SQLite reads in one already)
                connection = await connection.execution_options(isolation_level="REPEATABLE READ")
            rows = (await connection.execute(page)).all()
            if rows:
                total, size = rows[0].oup_total, rows[0].oup_size
            else:  # past the last page
                total, size = (await connection.execute(sa.select(counted, everyone))).one()
            facet_rows = (await connection.execute(_facet_counts(matching, total, size))).all()
        found: dict[str, list[tuple[str, int]]] = {name: [] for name in FACETS}
        for facet, value, count in facet_rows:
            found[facet].append((value, count))
        for values in found.values():
            values.sort(key=lambda item: (-item[1], item[0]))
        return SearchResult(query=query, total=total, items=[_dataset(r._mapping) for r in rows], facets=found)

    def _matching(self, query: SearchQuery) -> sa.Select[Any] | None:
        """The seqs of the datasets the query selects (text, facet filters, box); None for all.

        Each criterion is a set of seqs. Without conditions on the dataset row (PostgreSQL full
        text, the box), the first set (a facet value's rows, else FTS5 rowids) is scanned and the
        others, wanted or excluded, are probed by seq. Not FTS5 first when there are others: it
        would take them as rowid constraints and run the full-text query once for each.
        """
        if query.text is None and not query.filters and query.bbox is None:
            return None
        sets: list[sa.Select[Any]] = []
        excluded: list[sa.Select[Any]] = []
        on_dataset: list[sa.ColumnElement[bool]] = []
        for facet, values in query.filters.items():
            for value in values:
                value_id = sa.select(facet_values.c.id).where(facet_values.c.facet == facet, facet_values.c.value == value)
                tagged = tags.alias()
                sets.append(sa.select(tagged.c.seq).where(tagged.c.value_id == value_id.scalar_subquery()))
        if query.text is not None:
            if self._sqlite:
                wanted, unwanted = _fts5_query(query.text)
                if not wanted and not unwanted:
                    return sa.select(datasets.c.seq).where(sa.false())
                sets += [_fts5_rowids(wanted)] if wanted else []
                excluded += [_fts5_rowids(phrase) for phrase in unwanted]
            else:
                # to_tsvector('simple', search_text), stored (migration marketplace_0004)
                vector = sa.literal_column("marketplace_dataset.search_vector")
                on_dataset.append(vector.op("@@")(sa.func.websearch_to_tsquery(sa.literal_column("'simple'"), query.text)))
        if query.bbox is not None:
            box = query.bbox
            on_dataset += [
                datasets.c.min_lon <= box.max_lon,
                datasets.c.max_lon >= box.min_lon,
                datasets.c.min_lat <= box.max_lat,
                datasets.c.max_lat >= box.min_lat,
            ]
        if on_dataset or not sets:
            selected, seq = sa.select(datasets.c.seq).where(*on_dataset), datasets.c.seq
        else:
            selected, sets = sets[0], sets[1:]
            seq = selected.selected_columns[0]
        return selected.where(*(seq.in_(other) for other in sets), *(seq.not_in(other) for other in excluded))

    async def _index(self, connection: AsyncConnection, seq: int, dataset: Dataset) -> None:
        await self._take_turn(connection)
        value_ids = await self._value_ids(connection, dataset.facet_values())
        await insert_rows(connection, tags, [{"seq": seq, "value_id": value_id} for value_id in value_ids])
        if self._sqlite:
            await connection.execute(
                sa.text("INSERT INTO marketplace_dataset_fts (rowid, search_text) VALUES (:seq, :text)"),
                {"seq": seq, "text": dataset.text()},
            )

    async def _take_turn(self, connection: AsyncConnection) -> None:
        """On PostgreSQL, wait for the other writers of facet values to commit, as the counting
        trigger does (SQLite has one writer anyway): taken before any value is looked up, added
        or counted, so writers never hold what another one waits for (no deadlock)."""
        if not self._sqlite:
            await connection.execute(sa.select(sa.func.pg_advisory_xact_lock(*_FACET_WRITERS_LOCK)))

    async def _value_ids(self, connection: AsyncConnection, pairs: list[tuple[str, str]]) -> list[int]:
        """The ids of (facet, value) pairs, in ascending order; new values get theirs."""
        key = sa.tuple_(facet_values.c.facet, facet_values.c.value)
        lookup = sa.select(facet_values.c.id, facet_values.c.facet, facet_values.c.value)
        known = {(f, v): i for i, f, v in await connection.execute(lookup.where(key.in_(pairs)))} if pairs else {}
        missing = sorted(set(pairs) - set(known))
        if missing:
            insert = (sqlite.insert if self._sqlite else postgresql.insert)(facet_values).on_conflict_do_nothing()
            await connection.execute(insert, [{"facet": f, "value": v} for f, v in missing])
            known.update({(f, v): i for i, f, v in await connection.execute(lookup.where(key.in_(missing)))})
        return sorted(known[pair] for pair in pairs)

    async def _unindex(self, connection: AsyncConnection, seq: int) -> None:
        await self._take_turn(connection)
        await connection.execute(tags.delete().where(tags.c.seq == seq))
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


def _facet_counts(matching: sa.CTE | None, total: int, size: int) -> sa.Select[Any]:
    """(facet, value, count) over the matching datasets (``total`` of the catalogue's ``size``).

    Over the whole catalogue the counts are the ones the triggers keep. When most datasets
    match, the values of the others are counted and taken from those: whichever is fewer rows.
    """
    value = facet_values
    if matching is None:
        return sa.select(value.c.facet, value.c.value, value.c.datasets).where(value.c.datasets > 0)
    in_matching = sa.select(matching.c.seq)
    count = sa.func.count().label("n")
    if 2 * total <= size:
        counts = sa.select(tags.c.value_id, count).where(tags.c.seq.in_(in_matching)).group_by(tags.c.value_id)
        counted = counts.subquery()
        joined = counted.join(value, value.c.id == counted.c.value_id)
        return sa.select(value.c.facet, value.c.value, counted.c.n).select_from(joined)
    others = sa.select(datasets.c.seq).where(datasets.c.seq.not_in(in_matching))
    rest = sa.select(tags.c.value_id, count).where(tags.c.seq.in_(others)).group_by(tags.c.value_id).subquery()
    n = value.c.datasets - sa.func.coalesce(rest.c.n, 0)
    joined = value.outerjoin(rest, rest.c.value_id == value.c.id)
    return sa.select(value.c.facet, value.c.value, n).select_from(joined).where(n > 0)


def _fts5_rowids(expression: str) -> sa.Select[Any]:
    fts = sa.table("marketplace_dataset_fts", sa.column("rowid"))
    match = sa.literal_column("marketplace_dataset_fts").op("MATCH")(expression)
    return sa.select(fts.c.rowid.label("seq")).where(match)


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
        "original_iri": dataset.iri,
        "harvest_source": dataset.source,
    }


def _dataset(row: Any) -> Dataset:
    return Dataset(
        id=row["id"], document=row["document"], issued=as_utc(row["issued"]), modified=as_utc(row["modified"]),
        iri=row.get("original_iri"), source=row.get("harvest_source"),
    )
