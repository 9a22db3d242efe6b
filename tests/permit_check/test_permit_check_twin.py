"""Zoning plans and parcels in the digital twin: imported as NGSI-LD entities into a served context
MIM and found again at a footprint with geo-queries, over HTTP only.

Known answers from the real plans and parcels in tests/permit_check/data (checked by hand against
the GML and GeoJSON): the Spijkenisse bouwvlak NL.IMRO.7e528d45... carries four maximum heights
(24, 27, 30, 34 m); the footprint used here lies in its 24 m part, inside Gemengd - 1 and
Waarde - Archeologie 3 and away from the [bg] indication; BRK parcel RTD04-AG-2294 is the
quadrilateral 92628..92648 x 436608..436630 (425.4 m2 drawn, 421 m2 registered).
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from shapely.geometry import Polygon, box, mapping, shape

import ppi_schemas
from mims.context.service import create_app as create_context
from mims.kit.geo.imro import read_plan
from mims.kit.geo.twin_entities import TERMS, feature_of, type_iri
from mims.kit.problems import ProblemError
from mims.permit_check import checks, twin
from mims.permit_check.ruleset import load_ruleset
from tests.serving import closed_port, free_port, served

DATA = Path(__file__).resolve().parent / "data"
SPIJKENISSE = read_plan(DATA / "NL.IMRO.1930.BPRaadhuislaanSP-1001.gml")
ARNHEM = read_plan(DATA / "NL.IMRO.0202.974-0301.gml")
PARCELS = json.loads((DATA / "rotterdam_centre_parcels.geojson").read_text())
# Rotterdam Stadsdriehoek, the PPI's example plan: it has a functieaanduiding and lies on the parcels.
STADSDRIEHOEK = ppi_schemas.get("zoning-plan@1.0.0").examples_valid
STADSDRIEHOEK = next(e.payload for e in STADSDRIEHOEK if e.name == "rotterdam-centre-mixed-use")

PLANE = "NL.IMRO.7e528d458cf44250b6e625300991d66a"
HEIGHT_24 = "NL.IMRO.a8b3ec51eea648adaa250900a85db786"
GD_1 = "NL.IMRO.0de575642f7f4be8b3a6b7382868741a"
WR_A3 = "NL.IMRO.63acc30f84e54020bbfde4c67af18834"
IN_PLANE = box(82171.0, 429374.0, 82173.0, 429376.0)
ON_PARCEL = box(92635.0, 436615.0, 92640.0, 436620.0)
AMSTERDAM = box(121000.0, 487000.0, 121010.0, 487010.0)


def other_kinds() -> dict[str, Any]:
    """A copy of the Stadsdriehoek example under another idn with the kinds the real plans lack
    (gebiedsaanduiding, lettertekenaanduiding, figuur) in place of three of its own."""
    plan = copy.deepcopy(STADSDRIEHOEK)
    plan["id"] = "NL.IMRO.0599.BP1059Kinds-va01"
    other = {"bouwaanduiding": "gebiedsaanduiding", "functieaanduiding": "lettertekenaanduiding", "maatvoering": "figuur"}
    for feature in plan["features"]:
        feature["kind"] = other.get(feature["kind"], feature["kind"])
        feature["cites"]["plan"] = plan["id"]
    assert ppi_schemas.validate(plan, "zoning-plan@1.0.0") == []
    return plan


PLANS = [SPIJKENISSE, ARNHEM, STADSDRIEHOEK, other_kinds()]


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


async def publish_all(url: str) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        for plan in PLANS:
            await twin.publish(client, url, twin.plan_entities(plan))
        await twin.publish(client, url, twin.parcel_entities(PARCELS))


async def zoning_at(url: str, footprint: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with httpx.AsyncClient(timeout=30) as client:
        return await twin.zoning_at(client, url, footprint)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A context MIM on SQLite holding the four plans and the 971 parcels."""
    app = create_context(data_dir=tmp_path_factory.mktemp("context"), jsonld_remote=False)
    with served(app, free_port()) as url:
        run(publish_all(url))
        yield url


def feature(plan: dict[str, Any], feature_id: str) -> dict[str, Any]:
    return next(f for f in plan["features"] if f["id"] == feature_id)


def assert_same_geometry(found: dict[str, Any], imported: dict[str, Any]) -> None:
    found_shape, imported_shape = shape(found), shape(imported)
    assert found_shape.geom_type == imported_shape.geom_type
    assert found_shape.equals_exact(imported_shape, tolerance=0.001)
    assert found_shape.hausdorff_distance(imported_shape) <= 0.001


# -- known answers --------------------------------------------------------------------------------


def test_the_footprint_is_where_the_known_answers_say() -> None:
    # the premises of the next test, on the imported plan itself
    assert shape(feature(SPIJKENISSE, PLANE)["geometry"]).contains(IN_PLANE)
    assert shape(feature(SPIJKENISSE, HEIGHT_24)["geometry"]).contains(IN_PLANE)
    expected = {PLANE, HEIGHT_24, GD_1, WR_A3}
    assert {f["id"] for f in SPIJKENISSE["features"] if shape(f["geometry"]).intersects(IN_PLANE)} == expected


def test_a_footprint_in_a_building_plane_finds_the_plane_its_zoning_and_its_height(broker: str) -> None:
    features, parcels = run(zoning_at(broker, mapping(IN_PLANE)))
    by_id = {f["id"]: f for f in features}
    assert sorted(by_id) == sorted([PLANE, HEIGHT_24, GD_1, WR_A3]) and parcels == []
    plane, height, zone = by_id[PLANE], by_id[HEIGHT_24], by_id[GD_1]
    assert (plane["kind"], plane["zoningAreas"]) == ("bouwvlak", [GD_1])
    assert (zone["kind"], zone["designation"], zone["label"], zone["cites"]["article"]) == ("enkelbestemming", "gemengd", "GD-1", "3")
    assert (by_id[WR_A3]["kind"], by_id[WR_A3]["designation"]) == ("dubbelbestemming", "waarde")
    assert height["kind"] == "maatvoering" and height["indications"] == [PLANE]
    assert height["measurements"] == [{"kind": "max_height", "value": 24, "unit": "m", "sourceValueType": "maximum bouwhoogte (m)"}]
    assert height["cites"] == {"plan": SPIJKENISSE["id"], "article": "3", "text": zone["cites"]["text"]}
    for found in features:
        assert_same_geometry(found["geometry"], feature(SPIJKENISSE, found["id"])["geometry"])
        assert ppi_schemas.validate({**SPIJKENISSE, "features": [found]}, "zoning-plan@1.0.0") == []


def test_the_plans_of_the_features_give_their_status(broker: str) -> None:
    async def plans() -> dict[str, dict[str, Any]]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await twin.zoning_plans(client, broker, [SPIJKENISSE["id"], ARNHEM["id"], "NL.IMRO.0000.Absent-0001"])

    found = run(plans())
    assert sorted(found) == sorted([SPIJKENISSE["id"], ARNHEM["id"]])
    assert {idn: plan["status"] for idn, plan in found.items()} == {SPIJKENISSE["id"]: "voorontwerp", ARNHEM["id"]: "vastgesteld"}
    spijkenisse = found[SPIJKENISSE["id"]]
    assert spijkenisse == {**SPIJKENISSE, "features": []}
    assert ppi_schemas.validate(spijkenisse, "zoning-plan@1.0.0") == []


def test_a_footprint_elsewhere_finds_nothing(broker: str) -> None:
    assert run(zoning_at(broker, mapping(AMSTERDAM))) == ([], [])
    # 1 m north of the Spijkenisse plan area: within the search buffer, yet outside every feature
    north = shape(SPIJKENISSE["geometry"]).bounds[3]
    assert run(zoning_at(broker, box(82160.0, north + 1.0, 82165.0, north + 3.0))) == ([], [])


def test_a_footprint_on_a_parcel_finds_that_parcel(broker: str) -> None:
    [source] = [f for f in PARCELS["features"] if f["properties"]["KAD_ADRES"] == "4-AG-2294"]
    assert shape(source["geometry"]).contains(ON_PARCEL)
    features, parcels = run(zoning_at(broker, ON_PARCEL))
    assert features == []
    [parcel] = parcels
    assert parcel["reference"] == "RTD04-AG-2294"
    assert parcel["geometry"] == source["geometry"]
    assert shape(parcel["geometry"]).area == pytest.approx(425.4, abs=0.1)  # registered (OPPERVLAK): 421 m2


def test_a_footprint_over_parcel_boundaries_finds_each_parcel_and_the_zoning(broker: str) -> None:
    # Stadsdriehoek's building plane, on real parcels of Rotterdam centre
    footprint = box(93200.0, 437060.0, 93215.0, 437080.0)
    features, parcels = run(zoning_at(broker, footprint))
    expected = {p["properties"]["KAD_ADRES"].replace("4-", "RTD04-", 1) if p["properties"]["GEMEENTE"] == "RTD04" else None
                for p in PARCELS["features"] if shape(p["geometry"]).intersects(footprint)}
    assert len(expected) > 1 and None not in expected
    assert {p["reference"] for p in parcels} == expected
    assert {(f["cites"]["plan"], f["kind"]) for f in features} >= {(STADSDRIEHOEK["id"], "bouwvlak"), (STADSDRIEHOEK["id"], "enkelbestemming")}


# -- every feature kind, there and back -----------------------------------------------------------


def test_every_feature_of_every_kind_comes_back_as_imported(broker: str) -> None:
    kinds = set()
    for plan in PLANS:
        for imported in plan["features"]:
            features, _ = run(zoning_at(broker, imported["geometry"]))
            [found] = [f for f in features if (f["cites"]["plan"], f["id"]) == (plan["id"], imported["id"])]
            assert found == imported
            kinds.add(found["kind"])
    assert kinds == {"enkelbestemming", "dubbelbestemming", "bouwvlak", "bouwaanduiding", "functieaanduiding",
                     "gebiedsaanduiding", "lettertekenaanduiding", "maatvoering", "figuur"}


def test_entities_are_valid_ngsi_ld_with_types_ids_and_relationships() -> None:
    entities = twin.plan_entities(SPIJKENISSE)
    assert [e["id"] for e in entities[:1]] == [f"urn:ngsi-ld:ZoningPlan:{SPIJKENISSE['id']}"]
    types = {e["id"].split(":")[2]: e["type"] for e in entities}
    assert types == {name: type_iri(name) for name in ("ZoningPlan", "ZoningArea", "BuildingPlane", "ZoningIndication", "ZoningMeasurement")}
    plane = next(e for e in entities if e["id"].endswith(PLANE))
    assert plane["id"] == f"urn:ngsi-ld:BuildingPlane:{SPIJKENISSE['id']}:{PLANE}"
    assert plane[TERMS["refZoningPlan"]] == {"type": "Relationship", "object": entities[0]["id"]}
    assert plane[TERMS["zoningAreas"]]["objectList"] == [{"object": f"urn:ngsi-ld:ZoningArea:{SPIJKENISSE['id']}:{GD_1}"}]
    assert plane[TERMS["status"]]["value"] == "voorontwerp"
    # the same IRIs the zoning-plan PPI's @context gives its members
    assert TERMS["designation"] == "http://www.geonovum.nl/imro/2012/1.1#bestemmingshoofdgroep"
    # location is WGS84 (Spijkenisse lies near 4.33 E, 51.85 N)
    lon, lat = shape(plane["location"]["value"]).centroid.coords[0]
    assert 4.32 < lon < 4.34 and 51.84 < lat < 51.86
    for entity in entities + twin.parcel_entities(PARCELS)[:50]:
        assert ppi_schemas.validate(entity, "ngsi-ld-entity@1.0.0") == []


# -- re-import, paging, errors --------------------------------------------------------------------


def test_reimporting_a_plan_changes_nothing(broker: str) -> None:
    async def state() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.get(f"{broker}/ngsi-ld/v1/entities", params={
                "idPattern": f"^urn:ngsi-ld:[A-Za-z]+:{SPIJKENISSE['id'].replace('.', '[.]')}(:.*)?", "options": "sysAttrs", "limit": "100"})
            assert response.status_code == 200
            return response.json()

    async def reimport() -> twin.PlanChanges:
        async with httpx.AsyncClient(timeout=30) as client:
            return await twin.publish_plan(client, broker, twin.plan_entities(read_plan(DATA / "NL.IMRO.1930.BPRaadhuislaanSP-1001.gml")))

    before = run(state())
    assert run(reimport()) == twin.PlanChanges(added=0, updated=len(SPIJKENISSE["features"]), removed=0)
    after = run(state())
    assert len(before) == 1 + len(SPIJKENISSE["features"])
    assert after == before  # modifiedAt included: nothing was rewritten
    assert sorted(f["id"] for f in run(zoning_at(broker, IN_PLANE))[0]) == sorted([PLANE, HEIGHT_24, GD_1, WR_A3])


def reimported(plan_id: str) -> dict[str, Any]:
    """The Stadsdriehoek example under another idn, for re-importing changed versions of it."""
    plan = copy.deepcopy(STADSDRIEHOEK)
    plan["id"] = plan_id
    for found in plan["features"]:
        found["cites"]["plan"] = plan_id
    return plan


def without(plan: dict[str, Any], *feature_ids: str) -> dict[str, Any]:
    return {**plan, "features": [f for f in plan["features"] if f["id"] not in feature_ids]}


def stored_features(url: str, plan_id: str) -> dict[str, dict[str, Any]]:
    """The zoning features of a plan the twin holds, by feature id (read with GET /entities)."""
    async def read() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(timeout=30) as client:
            response = await client.get(f"{url}/ngsi-ld/v1/entities", params={
                "idPattern": f"^urn:ngsi-ld:[A-Za-z]+:{plan_id.replace('.', '[.]')}:.*", "limit": "100"})
            assert response.status_code == 200, response.text
            return response.json()

    return {found["id"]: found for found in map(feature_of, run(read()))}


def publish_plan(url: str, entities: list[dict[str, Any]]) -> twin.PlanChanges:
    async def publish() -> twin.PlanChanges:
        async with httpx.AsyncClient(timeout=30) as client:
            return await twin.publish_plan(client, url, entities)

    return run(publish())


ARCHAEOLOGY, RETAIL, FLAT_ROOF, HEIGHTS = ("NL.IMRO.0599.DB-waarde-archeologie", "NL.IMRO.0599.FA-detailhandel",
                                           "NL.IMRO.0599.BA-platdak", "NL.IMRO.0599.MV-1")


def test_a_reimported_plan_leaves_exactly_its_new_features(broker: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(twin, "BATCH_SIZE", 2)  # upserts and deletes in several batches
    first = reimported("NL.IMRO.0599.BP1059Reimport-va01")
    assert publish_plan(broker, twin.plan_entities(first)) == twin.PlanChanges(added=6, updated=0, removed=0)
    assert stored_features(broker, first["id"]) == {f["id"]: f for f in first["features"]}

    second = without(first, ARCHAEOLOGY, RETAIL, FLAT_ROOF)
    second["features"] = copy.deepcopy(second["features"])
    heights = feature(second, HEIGHTS)
    heights["measurements"][0]["value"] = 28
    assert publish_plan(broker, twin.plan_entities(second)) == twin.PlanChanges(added=0, updated=3, removed=3)
    assert stored_features(broker, first["id"]) == {f["id"]: f for f in second["features"]}
    features = [f for f in run(zoning_at(broker, heights["geometry"]))[0] if f["cites"]["plan"] == first["id"]]
    assert sorted(f["id"] for f in features) == sorted(f["id"] for f in second["features"])
    assert [f["measurements"][0]["value"] for f in features if f["id"] == HEIGHTS] == [28]
    # the other plans are untouched
    assert sorted(f["id"] for f in run(zoning_at(broker, IN_PLANE))[0]) == sorted([PLANE, HEIGHT_24, GD_1, WR_A3])


def test_a_reimport_that_fails_to_write_removes_nothing(broker: str) -> None:
    first = reimported("NL.IMRO.0599.BP1059Failing-va01")
    publish_plan(broker, twin.plan_entities(first))
    entities = twin.plan_entities(without(first, ARCHAEOLOGY, RETAIL))
    entities[1] = {**entities[1], "location": {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": [[[4.3, 51.8], [4.4, 51.9], [4.3, 51.8]]]}}}
    with pytest.raises(ProblemError) as caught:
        publish_plan(broker, entities)
    assert caught.value.status == 502 and entities[1]["id"] in caught.value.detail
    assert stored_features(broker, first["id"]) == {f["id"]: f for f in first["features"]}


def test_results_are_paged_through_a_broker_with_a_small_maximum(tmp_path: Path) -> None:
    async def scenario(url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with httpx.AsyncClient(timeout=30) as client:
            await twin.publish(client, url, twin.plan_entities(SPIJKENISSE))
            return await twin.zoning_at(client, url, SPIJKENISSE["geometry"])

    with served(create_context(data_dir=tmp_path, jsonld_remote=False, max_limit=3), free_port()) as url:
        features, parcels = run(scenario(url))
    assert sorted(f["id"] for f in features) == sorted(f["id"] for f in SPIJKENISSE["features"])
    assert parcels == []


def test_the_known_answer_holds_on_both_engines(database_url: str, tmp_path: Path) -> None:
    async def scenario(url: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        async with httpx.AsyncClient(timeout=60) as client:
            await twin.publish(client, url, twin.plan_entities(SPIJKENISSE))
            await twin.publish(client, url, twin.parcel_entities(PARCELS))
            return await twin.zoning_at(client, url, IN_PLANE), await twin.zoning_at(client, url, ON_PARCEL)

    app = create_context(data_dir=tmp_path, database_url=database_url, jsonld_remote=False)
    with served(app, free_port()) as url:
        (features, parcels), (nothing, [parcel]) = run(scenario(url))
    assert sorted(f["id"] for f in features) == sorted([PLANE, HEIGHT_24, GD_1, WR_A3]) and parcels == []
    assert nothing == [] and parcel["reference"] == "RTD04-AG-2294"


def test_a_refused_entity_is_named_in_the_error(broker: str) -> None:
    entities = twin.plan_entities(SPIJKENISSE)[:3]
    entities[1] = {**entities[1], "location": {"type": "GeoProperty", "value": {"type": "Polygon", "coordinates": [[[4.3, 51.8], [4.4, 51.9], [4.3, 51.8]]]}}}

    async def publish() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            await twin.publish(client, broker, entities)

    with pytest.raises(ProblemError) as caught:
        run(publish())
    assert caught.value.status == 502
    [item] = caught.value.errors
    assert item.pointer == "/1" and entities[1]["id"] in item.detail and "location" in item.detail


def test_an_unreachable_broker_is_a_clear_error() -> None:
    async def query(url: str) -> Any:
        async with httpx.AsyncClient(timeout=5) as client:
            return await twin.zoning_at(client, url, IN_PLANE)

    with closed_port() as port, pytest.raises(ProblemError) as caught:
        run(query(f"http://127.0.0.1:{port}"))
    assert caught.value.status == 502 and f"127.0.0.1:{port}/ngsi-ld/v1/entityOperations/query" in caught.value.detail


def test_a_footprint_that_is_not_an_area_is_refused(broker: str) -> None:
    for footprint in ({"type": "Point", "coordinates": [82172.0, 429375.0]},
                      Polygon([(0, 0), (2, 2), (2, 0), (0, 2)]),
                      {"type": "Polygon"}):
        with pytest.raises(ProblemError) as caught:
            run(zoning_at(broker, footprint))
        assert caught.value.status == 422 and caught.value.errors[0].pointer == "/footprint"


def test_parcels_files_that_are_not_brk_parcels_in_rd_are_refused() -> None:
    without_crs = {**PARCELS, "crs": None}
    with pytest.raises(ProblemError) as caught:
        twin.parcel_entities(without_crs)
    assert caught.value.status == 422 and caught.value.errors[0].pointer == "/crs"

    broken = copy.deepcopy(PARCELS)
    del broken["features"][3]["properties"]["SECTIE"]
    broken["features"][5]["geometry"] = {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}
    broken["features"][7] = copy.deepcopy(broken["features"][6])
    with pytest.raises(ProblemError) as caught:
        twin.parcel_entities(broken)
    assert [e.pointer for e in caught.value.errors] == ["/features/3/properties", "/features/5/geometry", "/features/7"]
    assert "SECTIE" in caught.value.errors[0].detail and "Self-intersection" in caught.value.errors[1].detail


def test_a_document_that_is_not_a_zoning_plan_is_refused() -> None:
    with pytest.raises(ProblemError) as caught:
        twin.plan_entities({**SPIJKENISSE, "status": "draft"})
    assert caught.value.status == 422 and caught.value.errors[0].pointer == "/status"


def test_a_sliver_that_rounding_in_wgs84_would_make_invalid_is_stored_and_found_exactly(broker: str) -> None:
    # a notch 0.01 mm wide: its walls coincide once projected and rounded to 1e-9 degree
    x, y, w = 150000.0, 450000.0, 0.00001
    ring = [(x, y), (x + 10, y), (x + 10, y + 10), (x + 5 + w, y + 10), (x + 5 + w, y + 2), (x + 5, y + 2), (x + 5, y + 10), (x, y + 10), (x, y)]
    geometry = {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}
    parcel = {"type": "Feature", "properties": {"GEMEENTE": "UTR01", "SECTIE": "A", "PERC_NR": 1}, "geometry": geometry}
    [entity] = twin.parcel_entities({**PARCELS, "features": [parcel]})
    assert ppi_schemas.validate(entity, "ngsi-ld-entity@1.0.0") == []

    async def publish() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            await twin.publish(client, broker, [entity])

    run(publish())
    features, [found] = run(zoning_at(broker, box(x + 1, y + 1, x + 2, y + 2)))
    assert features == [] and found == {"reference": "UTR01-A-1", "geometry": geometry}


# -- the plan status a check uses ------------------------------------------------------------------


def test_a_check_asks_for_the_plan_only_where_its_features_give_no_single_status(tmp_path: Path) -> None:
    """The features' entities record their plan's status: a check asks the twin once, and a second
    time, for the plan entity, only when the features of a plan lack a status or disagree on it."""
    plan = reimported("NL.IMRO.0599.BP1059Status-va01")
    entities = twin.plan_entities(plan)
    status = TERMS["status"]
    building = {"name": "Status", "crs": "EPSG:28992", "height": 9.0, "storeysAboveGround": 3,
                "footprint": mapping(box(93195.0, 437055.0, 93205.0, 437065.0))}

    async def checked(url: str, features: list[dict[str, Any]]) -> tuple[dict[str, Any], list[str]]:
        asked: list[str] = []

        async def record(request: httpx.Request) -> None:
            asked.append(request.content.decode())

        async with httpx.AsyncClient(timeout=30, event_hooks={"request": [record]}) as client:
            await twin.publish(client, url, [entities[0], *features])
            asked.clear()
            result = await checks.check_plan(client, url, building, load_ruleset("default"))
        return {k: v for k, v in result.decision.items() if k != "checkedAt"}, asked

    without_status = [{k: v for k, v in e.items() if k != status} for e in entities[1:]]
    disagreeing = [*entities[1:-1], {**entities[-1], status: {"type": "Property", "value": "ontwerp"}}]
    with served(create_context(data_dir=tmp_path, jsonld_remote=False), free_port()) as url:
        recorded, asked_once = run(checked(url, entities[1:]))
        lacking, asked_lacking = run(checked(url, without_status))
        differing, asked_differing = run(checked(url, disagreeing))
    assert len(asked_once) == 1 and '"geoQ"' in asked_once[0]
    for asked in (asked_lacking, asked_differing):
        assert len(asked) == 2 and '"geoQ"' in asked[0]
        assert json.loads(asked[1])["entities"] == [{"id": entities[0]["id"], "type": entities[0]["type"]}]
    # the plan entity's status (vastgesteld) decides, as the features' own status did: the same decision
    assert recorded["results"][0]["legalReference"]["plan"] == plan["id"]
    assert lacking == recorded and differing == recorded
