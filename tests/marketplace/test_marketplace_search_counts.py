"""Search results checked against a plain Python reading of the same datasets, on both engines:
totals, pages and every facet count, whether few, most or all datasets match (each is counted
another way), after updates and withdrawals, with publishers writing at the same time, and
across the migration that moved facet values to integer ids."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from alembic import command

from mims.kit import storage
from mims.kit.storage import _alembic_config
from mims.marketplace.catalogue_storage import SqlDatasetStore
from mims.marketplace.dcat import (
    DATA_THEME,
    FACETS,
    BoundingBox,
    Catalogue,
    Dataset,
    SearchQuery,
)
from mims.marketplace.service import SPEC

FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
CC_BY = "https://creativecommons.org/licenses/by/4.0/"
CC0 = "http://creativecommons.org/publicdomain/zero/1.0/"
WORDS = ("parking", "trees", "noise", "water", "schools", "energy")


def document(rng: random.Random, number: int) -> dict[str, Any]:
    word = rng.choice(WORDS)
    doc: dict[str, Any] = {
        "title": {"en": f"{word.capitalize()} {number}"},
        "description": {"en": f"Open data about {word} in district {number % 7}."},
        "publisher": {"name": rng.choice(("Rotterdam", "Delft", "Den Haag"))},
        "contactPoint": {"name": "Open data", "email": "opendata@example.nl"},
        "keywords": rng.sample(["mobility", "climate", "green", "sensors", "3D"], rng.randint(0, 3)),
        "themes": [DATA_THEME + theme for theme in rng.sample(["TRAN", "ENVI", "REGI", "HEAL"], rng.randint(1, 2))],
        "license": CC_BY if rng.random() < 0.7 else CC0,  # most datasets: counted by the others
        "distributions": [
            {"accessURL": f"https://data.example.nl/{number}/{fmt}", "format": FILE_TYPE + fmt}
            for fmt in rng.sample(["CSV", "JSON", "GEOJSON"], rng.randint(1, 2))
        ],
    }
    if rng.random() < 0.7:
        lon, lat = rng.uniform(4.2, 4.6), rng.uniform(51.85, 52.1)
        doc["spatial"] = {"bbox": [lon, lat, lon + 0.02, lat + 0.02]}
    return doc


def expected(published: Mapping[str, Dataset], query: SearchQuery) -> tuple[int, list[str], dict[str, list]]:
    """Total, page of ids and facet counts, read from the documents in Python."""
    def matches(dataset: Dataset) -> bool:
        values = set(dataset.facet_values())
        if not all((facet, value) in values for facet, chosen in query.filters.items() for value in chosen):
            return False
        if query.text is not None and query.text not in dataset.text().lower().split():
            return False
        box, wanted = dataset.bbox, query.bbox
        return wanted is None or (box is not None and box.min_lon <= wanted.max_lon and box.max_lon >= wanted.min_lon
                                  and box.min_lat <= wanted.max_lat and box.max_lat >= wanted.min_lat)

    found = [dataset for dataset in published.values() if matches(dataset)]  # publication order
    counts = Counter(pair for dataset in found for pair in dataset.facet_values())
    facets = {name: sorted(((v, n) for (f, v), n in counts.items() if f == name), key=lambda i: (-i[1], i[0]))
              for name in FACETS}
    return len(found), [d.id for d in found[query.offset:query.offset + query.limit]], facets


def queries(rng: random.Random) -> list[SearchQuery]:
    chosen = [
        SearchQuery(),
        SearchQuery(limit=7, offset=5),
        SearchQuery(offset=500, filters={"licence": (CC_BY,)}),  # past the last page: still the total
        SearchQuery(filters={"licence": (CC_BY,)}),
        SearchQuery(filters={"licence": (CC0,)}),
        SearchQuery(filters={"theme": (DATA_THEME + "TRAN",), "format": (FILE_TYPE + "CSV",)}),
        SearchQuery(filters={"keyword": ("green", "sensors")}),
        SearchQuery(filters={"publisher": ("Nowhere",)}),
        SearchQuery(bbox=BoundingBox(4.2, 51.85, 4.4, 52.0)),
        SearchQuery(bbox=BoundingBox(4.2, 51.85, 4.4, 52.0), filters={"licence": (CC_BY,)}, limit=3, offset=2),
    ]
    for word in WORDS:
        chosen.append(SearchQuery(text=word))
        chosen.append(SearchQuery(text=word, filters={"licence": (rng.choice((CC_BY, CC0)),)}))
    chosen.append(SearchQuery(text="data", limit=100))  # every dataset, through the text index
    return chosen


async def check_all(catalogue: Catalogue, published: Mapping[str, Dataset], rng: random.Random) -> None:
    for query in queries(rng):
        result = await catalogue.search(query)
        total, page, facets = expected(published, query)
        assert (result.total, [d.id for d in result.items]) == (total, page), query
        assert dict(result.facets) == facets, query


async def test_totals_pages_and_counts_agree_with_the_documents(engine) -> None:
    rng = random.Random(6)
    catalogue = Catalogue(SqlDatasetStore(engine))
    published: dict[str, Dataset] = {}
    for number in range(60):
        dataset = await catalogue.publish(document(rng, number))
        published[dataset.id] = dataset
    await check_all(catalogue, published, rng)

    for dataset_id in rng.sample(sorted(published), 15):
        published[dataset_id] = await catalogue.update(dataset_id, document(rng, 100 + len(published)))
    for dataset_id in rng.sample(sorted(published), 10):
        await catalogue.withdraw(dataset_id)
        del published[dataset_id]
    await check_all(catalogue, published, rng)


async def test_publishers_writing_at_once_keep_every_count(engine) -> None:
    """New facet values shared by concurrent publishers, updates and withdrawals at the same
    time: nothing fails (no deadlock) and every count is right afterwards."""
    rng = random.Random(9)
    catalogue = Catalogue(SqlDatasetStore(engine))
    shared = ["fresh-a", "fresh-b", "fresh-c", "fresh-d"]

    def with_shared(number: int) -> dict[str, Any]:
        doc = document(rng, number)
        doc["keywords"] = rng.sample(shared, len(shared)) + [f"only-{number}"]
        return doc

    first = await asyncio.gather(*(catalogue.publish(with_shared(number)) for number in range(16)))
    published = {dataset.id: dataset for dataset in first}
    changed = await asyncio.gather(
        *(catalogue.update(dataset.id, with_shared(50 + n)) for n, dataset in enumerate(first[:6])),
        *(catalogue.publish(with_shared(80 + n)) for n in range(6)),
        *(catalogue.withdraw(dataset.id) for dataset in first[6:12]),
    )
    for dataset in first[6:12]:
        del published[dataset.id]
    published.update({dataset.id: dataset for dataset in changed if isinstance(dataset, Dataset)})
    result = await catalogue.search(SearchQuery(limit=100))
    assert result.total == len(published) == 16 - 6 + 6
    assert all(dict(result.facets["keyword"])[keyword] == len(published) for keyword in shared)
    assert dict(result.facets) == expected(published, SearchQuery(limit=100))[2]


async def test_migration_carries_facet_values_both_ways(database_url) -> None:
    """Down to the text facet rows of marketplace_0001 and up again: the same counts."""
    engine = storage.create_engine(database_url)
    try:
        await storage.migrate(engine, SPEC.name, SPEC.migrations)
        rng = random.Random(3)
        catalogue = Catalogue(SqlDatasetStore(engine))
        for number in range(20):
            await catalogue.publish(document(rng, number))
        before = await catalogue.search(SearchQuery(filters={"licence": (CC_BY,)}))

        def downgrade(connection: sa.Connection) -> int:
            config = _alembic_config(SPEC.name, SPEC.migrations)
            config.attributes["connection"] = connection
            command.downgrade(config, "marketplace_0004-1")
            return connection.execute(sa.text("SELECT count(*) FROM marketplace_dataset_facet")).scalar_one()

        async with engine.connect() as connection:
            rows = await connection.run_sync(downgrade)
            await connection.commit()
        assert rows > 20

        await storage.migrate(engine, SPEC.name, SPEC.migrations)
        after = await catalogue.search(SearchQuery(filters={"licence": (CC_BY,)}))
        assert (after.total, after.items, dict(after.facets)) == (before.total, before.items, dict(before.facets))
        assert dict((await catalogue.search(SearchQuery())).facets["licence"])[CC_BY] == before.total
    finally:
        await engine.dispose()
