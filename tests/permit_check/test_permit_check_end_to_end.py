"""The permit check from end to end, as a city runs it: `oup up`; the real zoning plans and the
Rotterdam parcels imported into the digital twin with `oup permit`; an architect's system registered
with `oup identity add-client`; plans checked through the gateway with that system's token, and on
the command line. Known answers: see test_permit_check_rules.py (the Spijkenisse block and the
Whemedreef block and overhang) and the real parcel RTD04 AG 603.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from shapely.geometry import box, mapping, shape

import ppi_schemas
from mims.cli.services import SERVICES
from tests.kit.test_kit_geo_cityjson import box as cityjson_box
from tests.permit_check.test_permit_check_api import ifc_inside_the_plane
from tests.serving import ROOT, free_port_offset, oup_up

DATA = Path(__file__).resolve().parent / "data"
SPIJKENISSE = DATA / "NL.IMRO.1930.BPRaadhuislaanSP-1001.gml"
WHEMEDREEF = DATA / "NL.IMRO.0202.974-0301.gml"
PARCELS = DATA / "rotterdam_centre_parcels.geojson"


@dataclass
class City:
    gateway: str
    context: str
    data_dir: Path
    secrets: dict[str, str]

    def token(self, client_id: str) -> dict[str, str]:
        answer = httpx.post(f"{self.gateway}/identity/token", data={"grant_type": "client_credentials"},
                            auth=(client_id, self.secrets[client_id]), timeout=10)
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def oup(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mims.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def secrets_printed(text: str) -> dict[str, str]:
    """client_id -> client_secret as `oup up` and `oup identity add-client` print them."""
    return dict(re.findall(r"client_id:\s+(\S+)\s+client_secret:\s+(\S+)", text))


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    offset = free_port_offset([service.port for service in SERVICES.values()])
    data_dir = tmp_path_factory.mktemp("city") / "data"
    with oup_up(data_dir, offset) as (_, printed):
        context = f"http://127.0.0.1:{SERVICES['context'].port + offset}"
        for command in (("import-zoning", str(SPIJKENISSE), "--status", "vastgesteld"),
                        ("import-zoning", str(WHEMEDREEF)), ("import-parcels", str(PARCELS))):
            imported = oup("permit", *command, "--context-url", context)
            assert imported.returncode == 0, imported.stderr
        assert "Imported 971 parcels." in imported.stdout
        added = oup("identity", "add-client", "architect", "--client-id", "architect", "--scope", "permit:submit",
                    "--data-dir", str(data_dir))
        assert added.returncode == 0, added.stderr
        yield City(f"http://127.0.0.1:{SERVICES['gateway'].port + offset}", context, data_dir,
                   secrets_printed(printed) | secrets_printed(added.stdout))


def house(footprint: Any, height: float, **members: Any) -> dict[str, Any]:
    return {"footprint": mapping(footprint), "height": height, "storeysAboveGround": 3, "dwellings": 1,
            "parkingSpaces": 1, "roofType": "flat", "functions": [{"function": "wonen", "grossFloorArea": 150.0}],
            **members}


def verdicts(decision: dict[str, Any]) -> dict[str, str]:
    return {result["rule"]: result["verdict"] for result in decision["results"]}


def test_the_architect_checks_a_plan_through_the_gateway_and_reads_it_back(city: City) -> None:
    architect = city.token("architect")
    plan = house(box(82145, 429333, 82152, 429340), 30.0, parcel={"geometry": mapping(box(82140, 429328, 82157, 429345))})
    answer = httpx.post(f"{city.gateway}/permit-check/v1/checks", json=plan, params={"municipality": "default"},
                        headers=architect, timeout=30)
    assert answer.status_code == 201, answer.text
    decision = answer.json()
    assert ppi_schemas.validate({k: v for k, v in decision.items() if k != "id"}, "permit-decision@1.0.0") == []
    assert decision["verdict"] == "compliant"
    [height] = [r for r in decision["results"] if r["rule"] == "max-height"]
    assert (height["measured"], height["limit"]) == ({"value": 30.0, "unit": "m"}, {"value": 34, "unit": "m"})
    assert height["legalReference"]["plan"] == "NL.IMRO.1930.BPRaadhuislaanSP-1001"

    location = answer.headers["Location"]
    assert location.endswith(f"/v1/checks/{decision['id']}")
    stored = httpx.get(f"{city.gateway}/permit-check/v1/checks/{decision['id']}", headers=architect, timeout=10)
    assert stored.status_code == 200 and stored.json() == decision
    report = httpx.get(f"{city.gateway}/permit-check/v1/checks/{decision['id']}.html", params={"lang": "nl"},
                       headers=architect, timeout=10)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert '<html lang="nl"' in report.text and "<svg" in report.text and "De bouwhoogte is 30 m" in report.text


def test_an_overhanging_plan_on_the_whemedreef_fails_with_the_part_outside(city: City) -> None:
    answer = httpx.post(f"{city.gateway}/permit-check/v1/checks", json=house(box(191186, 441524, 191198, 441528), 12.0),
                        headers=city.token("architect"), timeout=30)
    assert answer.status_code == 201, answer.text
    decision = answer.json()
    assert decision["verdict"] == "non-compliant"
    [plane] = [r for r in decision["results"] if r["rule"] == "within-building-plane"]
    assert (plane["verdict"], plane["measured"]) == ("fail", {"value": 12.69, "unit": "m2"})
    assert shape(plane["evidence"]).area == pytest.approx(12.69, abs=0.01)
    assert plane["legalReference"] == {"plan": "NL.IMRO.0202.974-0301", "article": "7"}


def test_cityjson_and_ifc_files_are_checked_through_the_gateway(city: City) -> None:
    architect = city.token("architect")
    url = f"{city.gateway}/permit-check/v1/checks"
    # CityJSON: the 7 m block, terrain (b3_h_maaiveld) at 0 m NAP, its roof at 35.5 m NAP: 35.5 m high
    tall = httpx.post(url, content=json.dumps(cityjson_box(82145.0, 429333.0, 7.0, base=-0.5, top=35.5)),
                      headers={**architect, "Content-Type": "application/city+json"}, timeout=30)
    assert tall.status_code == 201, tall.text
    [height] = [r for r in tall.json()["results"] if r["rule"] == "max-height"]
    assert (height["verdict"], height["measured"], height["limit"]) == ("fail", {"value": 35.5, "unit": "m"}, {"value": 34, "unit": "m"})
    # IFC: the 10 m x 8 m, 6.3 m high test building, georeferenced inside the bouwvlak
    body, _ = ifc_inside_the_plane()
    model = httpx.post(url, content=body, headers={**architect, "Content-Type": "application/x-step"}, timeout=30)
    assert model.status_code == 201, model.text
    assert verdicts(model.json())["within-building-plane"] == verdicts(model.json())["max-height"] == "pass"
    unplaced, _ = ifc_inside_the_plane(georeferenced=False)
    refused = httpx.post(url, content=unplaced, headers={**architect, "Content-Type": "application/x-step"}, timeout=30)
    assert refused.status_code == 422 and "origin" in refused.json()["detail"]


def test_a_plan_on_a_real_rotterdam_parcel_is_measured_against_that_parcel(city: City) -> None:
    # RTD04 AG 603 (471.43 m2): a 7 m x 20 m house 3.01 m from its west side lies wholly inside it.
    # No zoning plan is imported there, so the zoning rules cannot be decided.
    plan = house(box(92662, 436650, 92669, 436670), 9.0, parcel={"reference": "RTD04-AG-603"})
    answer = httpx.post(f"{city.gateway}/permit-check/v1/checks", json=plan, params={"municipality": "rotterdam"},
                        headers=city.token("architect"), timeout=30)
    assert answer.status_code == 201, answer.text
    decision = answer.json()
    assert decision["ruleSet"]["municipality"] == "rotterdam"
    assert decision["verdict"] == "insufficient-data"
    assert verdicts(decision)["within-parcel"] == "pass" and verdicts(decision)["max-height"] == "insufficient-data"
    moved = house(box(92655, 436650, 92662, 436670), 9.0, parcel={"reference": "RTD04-AG-603"})
    crossing = httpx.post(f"{city.gateway}/permit-check/v1/checks", json=moved, headers=city.token("architect"),
                          timeout=30).json()
    assert verdicts(crossing)["within-parcel"] == "fail"


def test_the_gateway_refuses_callers_without_permit_submit(city: City) -> None:
    plan = house(box(82145, 429333, 82152, 429340), 30.0)
    anonymous = httpx.post(f"{city.gateway}/permit-check/v1/checks", json=plan, timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    reader = httpx.post(f"{city.gateway}/permit-check/v1/checks", json=plan, headers=city.token("demo-context-reader"),
                        timeout=10)
    assert reader.status_code == 403 and "permit:submit" in reader.json()["detail"]


def test_a_city_officer_checks_a_plan_file_on_the_command_line(city: City, tmp_path: Path) -> None:
    plan = tmp_path / "too-tall.json"
    plan.write_text(json.dumps(house(box(82145, 429333, 82152, 429340), 34.01)))
    checked = oup("permit", "check", str(plan), "--context-url", city.context, "--lang", "nl")
    assert checked.returncode == 1, checked.stderr
    assert "Verdict: non-compliant" in checked.stdout and re.search(r"max-height\s*│\s*fail", checked.stdout)
    as_json = oup("permit", "check", str(plan), "--context-url", city.context, "--json")
    [height] = [r for r in json.loads(as_json.stdout)["results"] if r["rule"] == "max-height"]
    assert height["explanation"]["nl"] == "De bouwhoogte is 34,01 m; ten hoogste 34 m is toegestaan. Dit voldoet niet."
