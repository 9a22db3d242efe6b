"""The living demo on a real platform: `oup up` seeds Rotterdam on first start, through the
gateway, and a second `oup demo seed` changes nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from shapely.geometry import box, mapping, shape

from mims.cli.demo import layers, rotterdam
from mims.cli.demo.catalogue import OPEN, offer_uid
from mims.cli.demo.smart_data_models import AIR_QUALITY_CONTEXT
from oup_platform import WIDE, Platform, expected_counts
from oup_platform import layers as demo_layers
from tests.serving import ROOT


def test_first_start_seeds_rotterdam_and_writes_the_marker(platform: Platform) -> None:
    assert "Demo rotterdam: seeded" in platform.printed
    marker = json.loads((platform.data_dir / "demo-seeded.json").read_text())
    assert marker["city"] == "rotterdam"
    assert {layer.kind: marker["counts"][layer.kind]["created"] for layer in demo_layers()} == \
        {layer.kind: len(layer.entities) for layer in demo_layers()}
    assert (platform.data_dir / "demo-seeder.json").stat().st_mode & 0o777 == 0o600


def test_entities_of_every_kind_are_in_the_twin(platform: Platform) -> None:
    assert platform.counts() == expected_counts()


def test_air_quality_has_48_hours_of_history(platform: Platform) -> None:
    reader = platform.token("demo-context-reader", platform.secret("demo-context-reader"), "context:read")
    station = "urn:ngsi-ld:AirQualityObserved:rotterdam-statenweg"
    response = platform.http.get(f"/ngsi-ld/v1/temporal/entities/{station}", params={"attrs": "no2"}, headers={
        **reader, "Link": f'<{AIR_QUALITY_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'})
    assert response.status_code in (200, 206), response.text
    instances = response.json()["no2"]
    assert len(instances) == layers.HISTORY_HOURS
    assert len({instance["observedAt"] for instance in instances}) == layers.HISTORY_HOURS


def test_catalogue_search_finds_the_datasets(platform: Platform) -> None:
    for words, title in (("parcels", "Cadastral parcels of Rotterdam centre"), ("air quality", "Air quality in Rotterdam"),
                         ("illustrative zoning", "Illustrative demo zoning plan of Rotterdam")):
        found = platform.http.get("/marketplace/datasets", params={"q": words}).json()["items"]
        titles = [t["@value"] for item in found for t in item["title"] if t["@language"] == "en"]
        assert title in titles, (words, titles)


def test_the_open_offer_is_agreed_at_once(platform: Platform) -> None:
    parcels = next(entry for entry in rotterdam.demo(datetime.now(UTC), platform.gateway).datasets if OPEN in entry.offers)
    consumer = platform.token("demo-data-developer", platform.secret("demo-data-developer"), "marketplace:consume")
    response = platform.http.post("/marketplace/negotiations/request", json={"offer": offer_uid(parcels, OPEN)},
                                  headers=consumer)
    assert response.status_code == 201, response.text
    negotiation = response.json()
    assert negotiation["state"].endswith("FINALIZED"), negotiation


def test_a_plan_on_a_centre_parcel_gets_a_decision_under_the_illustrative_plan(platform: Platform) -> None:
    secret = _add_client(platform.data_dir, "permit:submit")
    submitter = platform.token(*secret, "permit:submit")
    parcels = json.loads((ROOT / "mims/cli/demo/data/rotterdam_centre_parcels.geojson").read_text())["features"]
    parcel = shape(max(parcels, key=lambda f: shape(f["geometry"]).area)["geometry"])
    point = parcel.representative_point()
    footprint = box(point.x - 4, point.y - 4, point.x + 4, point.y + 4).intersection(parcel)
    house = {"footprint": json.loads(json.dumps(mapping(footprint))), "storeysAboveGround": 3, "dwellings": 1,
             "parkingSpaces": 1, "roofType": "flat", "functions": [{"function": "wonen", "grossFloorArea": 150.0}]}
    for height, verdict in ((12.0, "compliant"), (75.0, "non-compliant")):
        response = platform.http.post("/permit-check/v1/checks", json={**house, "height": height}, headers=submitter)
        assert response.status_code == 201, response.text
        decision = response.json()
        assert decision["verdict"] == verdict
        [rule] = [result for result in decision["results"] if result["rule"] == "max-height"]
        assert rule["limit"] == {"value": 70, "unit": "m"}
        assert rule["legalReference"]["plan"] == rotterdam.PLAN_ID


def test_a_second_seed_changes_nothing_and_says_so(platform: Platform) -> None:
    before = platform.counts()
    result = subprocess.run(
        [sys.executable, "-m", "mims.cli", "demo", "seed", "--gateway", platform.gateway,
         "--data-dir", str(platform.data_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env=WIDE,
    )
    assert result.returncode == 0, result.stderr
    assert "nothing changed" in result.stdout
    assert platform.counts() == before == expected_counts()


def test_an_unknown_city_is_refused() -> None:
    result = subprocess.run([sys.executable, "-m", "mims.cli", "demo", "seed", "--city", "utrecht"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "rotterdam, den-haag, zuid-holland" in result.stderr


def _add_client(data_dir: Path, scope: str) -> tuple[str, str]:
    result = subprocess.run([sys.executable, "-m", "mims.cli", "identity", "add-client", "permit submitter",
                             "--scope", scope, "--data-dir", str(data_dir)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, env=WIDE)
    assert result.returncode == 0, result.stderr
    client_id = re.search(r"client_id:\s+(\S+)", result.stdout)
    secret = re.search(r"client_secret:\s+(\S+)", result.stdout)
    assert client_id and secret, result.stdout
    return client_id.group(1), secret.group(1)


