"""`oup permit`: import a zoning plan and parcels into a served context MIM, then check plans
from files against them; and how `oup up` wires the permit check to the context MIM and the gateway."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mims.cli import app
from mims.cli.services import SERVICES
from mims.cli.supervisor import Supervisor
from mims.context.service import create_app as create_context
from mims.permit_check.service import SPEC
from tests.permit_check.test_permit_check_api import BLOCK, parcels, plan
from tests.permit_check.test_permit_check_cityjson import box as cityjson_box
from tests.serving import closed_port, free_port, served

DATA = Path(__file__).resolve().parent / "data"
runner = CliRunner(env={"COLUMNS": "220"})


@pytest.fixture(scope="module")
def context_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served(create_context(data_dir=tmp_path_factory.mktemp("context")), free_port()) as url:
        yield url


@pytest.fixture(scope="module")
def imported(context_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("files")
    (folder / "parcels.geojson").write_text(json.dumps(parcels()))
    zoning = runner.invoke(app, ["permit", "import-zoning", str(DATA / "NL.IMRO.1930.BPRaadhuislaanSP-1001.gml"),
                                 "--context-url", context_url, "--status", "vastgesteld"])
    assert zoning.exit_code == 0, zoning.output
    assert "NL.IMRO.1930.BPRaadhuislaanSP-1001" in zoning.output and "vastgesteld" in zoning.output
    lots = runner.invoke(app, ["permit", "import-parcels", str(folder / "parcels.geojson"),
                               "--context-url", context_url])
    assert lots.exit_code == 0 and "Imported 1 parcels" in lots.output, lots.output
    return context_url


def write(tmp_path: Path, name: str, document: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def test_a_compliant_plan_prints_the_table_and_exits_0(imported: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["permit", "check", write(tmp_path, "plan.json", plan(height=30.0)),
                                 "--municipality", "default", "--context-url", imported])
    assert result.exit_code == 0, result.output
    assert "max-height" in result.output and "at most 34 m is allowed" in result.output
    assert "Verdict: compliant" in result.output


def test_a_plan_too_tall_exits_1_and_says_why_in_dutch(imported: str, tmp_path: Path) -> None:
    result = runner.invoke(app, ["permit", "check", write(tmp_path, "plan.json", plan(height=34.01)),
                                 "--context-url", imported, "--lang", "nl"])
    assert result.exit_code == 1, result.output
    assert "De bouwhoogte is 34,01 m; ten hoogste 34 m is toegestaan" in result.output
    assert "Verdict: non-compliant" in result.output


def test_a_cityjson_file_is_checked_and_json_output_is_a_decision(imported: str, tmp_path: Path) -> None:
    document = cityjson_box(BLOCK.bounds[0], BLOCK.bounds[1], 7.0, base=-0.5, top=29.5)
    result = runner.invoke(app, ["permit", "check", write(tmp_path, "house.city.json", document),
                                 "--context-url", imported, "--json"])
    assert result.exit_code == 0, result.output
    decision = json.loads(result.stdout)
    [height] = [r for r in decision["results"] if r["rule"] == "max-height"]
    assert height["measured"] == {"value": 29.5, "unit": "m"} and height["verdict"] == "pass"


def test_unusable_input_exits_2_saying_what(imported: str, tmp_path: Path) -> None:
    path = write(tmp_path, "plan.json", plan())
    unknown = runner.invoke(app, ["permit", "check", path, "--municipality", "atlantis", "--context-url", imported])
    assert unknown.exit_code == 2 and "atlantis" in unknown.output
    broken = runner.invoke(app, ["permit", "check", write(tmp_path, "bad.json", {"height": 3}),
                                 "--context-url", imported])
    assert broken.exit_code == 2 and "/footprint" in broken.output
    with closed_port() as port:
        down = runner.invoke(app, ["permit", "check", path, "--context-url", f"http://127.0.0.1:{port}"])
    assert down.exit_code == 2 and "cannot be reached" in down.output
    status = runner.invoke(app, ["permit", "import-zoning", str(DATA / "NL.IMRO.1930.BPRaadhuislaanSP-1001.gml"),
                                 "--context-url", imported, "--status", "adopted"])
    assert status.exit_code == 2 and "vastgesteld" in status.output


def test_up_gives_the_permit_check_the_context_url_and_the_gateway_the_permit_check_url(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for variable in [v for v in os.environ if v.startswith("OUP_")]:
        monkeypatch.delenv(variable)
    supervisor = Supervisor(list(SERVICES.values()), host="127.0.0.1", data_dir=tmp_path, port_offset=100)
    permit = supervisor._upstream_settings(SERVICES["permit-check"])
    assert permit == {"OUP_PERMIT_CHECK_CONTEXT_URL": "http://127.0.0.1:8102",
                      "OUP_PERMIT_CHECK_PUBLIC_URL": "http://127.0.0.1:8100/permit-check"}
    assert supervisor._upstream_settings(SERVICES["gateway"])["OUP_GATEWAY_PERMIT_CHECK_URL"] == "http://127.0.0.1:8104"
    for variable, value in permit.items():
        monkeypatch.setenv(variable, value)
    settings = SPEC.settings()
    assert settings.context_url == "http://127.0.0.1:8102" and str(settings.public_url).startswith("http://127.0.0.1:8100")
    assert settings.port == 8004
