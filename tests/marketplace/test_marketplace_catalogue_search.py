"""Catalogue storage and search on both engines: full text (FTS5 / PostgreSQL), facets with
counts, facet filters, bounding box, paging; updates and withdrawals keep the indexes right."""

from __future__ import annotations

import pytest

from mims.marketplace.catalogue_storage import SqlDatasetStore
from mims.marketplace.dcat import (
    DATA_THEME,
    JSON_LD_FILE_TYPE,
    BoundingBox,
    Catalogue,
    InvalidSearch,
    SearchQuery,
)

CSV = "http://publications.europa.eu/resource/authority/file-type/CSV"
CC_BY = "https://creativecommons.org/licenses/by/4.0/"


@pytest.fixture
async def published(engine, example):
    """The three PPI examples in the catalogue: buildings (Rotterdam, bbox), parking (The Hague,
    polygon), air quality (port, no spatial coverage)."""
    catalogue = Catalogue(SqlDatasetStore(engine))
    names = ("rotterdam-buildings-digital-twin", "parking-csv-download", "air-quality-geo-filtered")
    ids = {name: (await catalogue.publish(example(name))).id for name in names}
    return catalogue, ids


async def found(catalogue: Catalogue, **query) -> list[str]:
    return [dataset.id for dataset in (await catalogue.search(SearchQuery(**query))).items]


async def test_full_text_over_titles_descriptions_and_keywords(published):
    catalogue, ids = published
    assert await found(catalogue, text="Delfshaven") == [ids["rotterdam-buildings-digital-twin"]]
    assert await found(catalogue, text="capaciteit") == [ids["parking-csv-download"]]
    assert await found(catalogue, text="luchtkwaliteit") == [ids["air-quality-geo-filtered"]]
    assert await found(catalogue, text="buildings rotterdam") == [ids["rotterdam-buildings-digital-twin"]]
    assert await found(catalogue, text="buildings parkeergarages") == []
    assert await found(catalogue, text="PARKEERGARAGES") == [ids["parking-csv-download"]]


async def test_web_search_syntax_means_the_same_on_both_engines(published):
    catalogue, ids = published
    air = ids["air-quality-geo-filtered"]
    assert await found(catalogue, text='"air quality"') == [air]
    assert await found(catalogue, text='"quality air"') == []
    assert await found(catalogue, text='"air quality" -port') == []
    assert await found(catalogue, text='"air quality" -"den haag"') == [air]
    assert await found(catalogue, text="parkeergarages or delfshaven") == [
        ids["rotterdam-buildings-digital-twin"], ids["parking-csv-download"]]
    assert await found(catalogue, text='unclosed "quote NOT (') == []
    assert await found(catalogue, text="?!") == []


async def test_facets_count_the_matching_datasets(published):
    catalogue, _ = published
    result = await catalogue.search(SearchQuery())
    assert result.total == 3
    assert dict(result.facets["licence"]) == {CC_BY: 2, "http://creativecommons.org/publicdomain/zero/1.0/": 1}
    assert dict(result.facets["format"]) == {JSON_LD_FILE_TYPE: 2, CSV: 1}
    assert dict(result.facets["theme"]) == {DATA_THEME + "REGI": 1, DATA_THEME + "ENVI": 1, DATA_THEME + "HEAL": 1}
    assert result.facets["licence"][0] == (CC_BY, 2)  # most frequent first
    narrowed = await catalogue.search(SearchQuery(filters={"licence": (CC_BY,)}))
    assert narrowed.total == 2
    assert dict(narrowed.facets["publisher"]) == {"Gemeente Den Haag": 1, "DCMR Milieudienst Rijnmond": 1}


async def test_facet_filters_all_hold(published):
    catalogue, ids = published
    assert await found(catalogue, filters={"format": (JSON_LD_FILE_TYPE,)}) == [
        ids["rotterdam-buildings-digital-twin"], ids["air-quality-geo-filtered"]]
    both = {"format": (JSON_LD_FILE_TYPE,), "theme": (DATA_THEME + "ENVI",)}
    assert await found(catalogue, filters=both) == [ids["air-quality-geo-filtered"]]
    assert await found(catalogue, filters={"keyword": ("3D",), "publisher": ("Gemeente Den Haag",)}) == []
    assert await found(catalogue, text="parkeergarages", filters={"format": (CSV,)}) == [ids["parking-csv-download"]]


async def test_bounding_box_intersects_spatial_coverage(published):
    catalogue, ids = published
    rotterdam = BoundingBox(4.40, 51.88, 4.45, 51.95)
    assert await found(catalogue, bbox=rotterdam) == [ids["rotterdam-buildings-digital-twin"]]
    den_haag_corner = BoundingBox(4.34, 52.09, 4.40, 52.20)  # overlaps the polygon's north-east corner
    assert await found(catalogue, bbox=den_haag_corner) == [ids["parking-csv-download"]]
    south_holland = BoundingBox(3.8, 51.6, 5.0, 52.3)
    assert set(await found(catalogue, bbox=south_holland)) == {
        ids["rotterdam-buildings-digital-twin"], ids["parking-csv-download"]}
    assert await found(catalogue, bbox=BoundingBox(5.0, 52.3, 5.1, 52.4)) == []


async def test_paging_keeps_publication_order_and_total(published):
    catalogue, ids = published
    in_order = list(ids.values())
    page = await catalogue.search(SearchQuery(limit=2, offset=1))
    assert (page.total, [d.id for d in page.items]) == (3, in_order[1:])
    assert (await catalogue.search(SearchQuery(limit=2, offset=3))).items == []


async def test_update_and_withdrawal_reindex(published, example):
    catalogue, ids = published
    parking = ids["parking-csv-download"]
    changed = example("parking-csv-download")
    changed["title"] = {"en": "Bicycle sheds"}
    changed["description"] = {"en": "Where bicycles are kept."}
    changed["license"] = CC_BY + "#changed"
    await catalogue.update(parking, changed)
    assert await found(catalogue, text="parkeergarages") == []
    assert await found(catalogue, text="bicycles") == [parking]
    assert dict((await catalogue.search(SearchQuery())).facets["licence"])[CC_BY] == 1
    await catalogue.withdraw(parking)
    assert await found(catalogue, text="bicycles") == []
    result = await catalogue.search(SearchQuery())
    assert result.total == 2 and CSV not in dict(result.facets["format"])


async def test_round_trip_keeps_document_and_dates(published):
    catalogue, ids = published
    dataset = await catalogue.get(ids["parking-csv-download"])
    assert dataset.document["publisher"] == {"name": "Gemeente Den Haag"}
    assert dataset.issued.tzinfo is not None and dataset.issued == dataset.modified
    assert [d.id for d in await catalogue.all()] == list(ids.values())


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
        ({"text": "  "}, "q"),
        ({"filters": {"colour": ("red",)}}, "colour"),
    ],
)
def test_bad_search_names_the_parameter(query, parameter):
    with pytest.raises(InvalidSearch) as raised:
        SearchQuery(**query)
    assert raised.value.parameter == parameter


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "5,0,4,1", "0,-91,1,0"])
def test_bad_bbox_is_refused(text):
    with pytest.raises(InvalidSearch):
        BoundingBox.parse(text)


def test_search_over_http(http, example):
    for name in ("rotterdam-buildings-digital-twin", "parking-csv-download"):
        http.post("/datasets", json=example(name))
    body = http.get("/datasets", params={"q": "gebouwen", "bbox": "4.4,51.8,4.5,52.0", "limit": 5}).json()
    assert (body["total"], body["limit"], body["offset"]) == (1, 5, 0)
    assert body["items"][0]["title"][0]["@value"] == "Gebouwen in Delfshaven"
    assert body["facets"]["keyword"] == [
        {"value": "3D", "count": 1}, {"value": "buildings", "count": 1}, {"value": "gebouwen", "count": 1}]
    by_format = http.get("/datasets", params=[("format", CSV), ("publisher", "Gemeente Den Haag")]).json()
    assert by_format["total"] == 1
    bad = http.get("/datasets", params={"bbox": "4.4,51.8"})
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["pointer"] == "bbox" and bad.json()["errors"][0]["location"] == "query"
    assert http.get("/datasets", params={"limit": 1000}).status_code == 400
