"""`oup permit`: import a zoning plan and parcels into a served context MIM, then check plans
from files against them; and how `oup up` wires the permit check to the context MIM and the gateway.

Towards a context MIM that checks tokens itself (auth required, trusting a served identity MIM),
the commands and the service obtain client-credentials tokens; without credentials, or with a
wrong secret, they say what was refused and what to set."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from lxml import etree
from typer.testing import CliRunner

from mims.cli import app
from mims.cli.services import SERVICES
from mims.cli.supervisor import Supervisor
from mims.context.service import create_app as create_context
from mims.identity.clients import register_client
from mims.identity.service import SPEC as IDENTITY
from mims.identity.service import create_app as create_identity
from mims.identity.settings import PLATFORM_SCOPES
from mims.identity.storage import SqlClientStore
from mims.kit import storage
from mims.permit_check.service import SPEC
from mims.permit_check.service import create_app as create_permit_check
from tests.kit.test_kit_geo_cityjson import box as cityjson_box
from tests.permit_check.test_permit_check_api import BLOCK, parcels, plan
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


# -- a context MIM that checks tokens itself ---------------------------------------------------------

SPIJKENISSE = DATA / "NL.IMRO.1930.BPRaadhuislaanSP-1001.gml"
HEIGHT_24 = "NL.IMRO.a8b3ec51eea648adaa250900a85db786"


@dataclass(frozen=True)
class SecuredTwin:
    context_url: str
    token_url: str
    secret: str

    def credentials(self, secret: str | None = None) -> list[str]:
        return ["--context-url", self.context_url, "--client-id", "permit-check",
                "--client-secret", secret or self.secret, "--token-url", self.token_url]


async def register_permit_check(database_url: str) -> str:
    engine = storage.create_engine(database_url)
    try:
        await storage.migrate(engine, IDENTITY.name, IDENTITY.migrations)
        registration = await register_client(SqlClientStore(engine), name="permit-check", client_id="permit-check",
                                             scopes=["context:read", "context:write"], platform_scopes=PLATFORM_SCOPES)
        assert registration.client_secret is not None
        return registration.client_secret
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredTwin]:
    """An identity MIM knowing the client permit-check, and a context MIM with auth required."""
    folder = tmp_path_factory.mktemp("secured")
    database = storage.default_database_url("identity", folder / "identity")
    secret = asyncio.run(register_permit_check(database))
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        stack.enter_context(served(create_identity(data_dir=folder / "identity", database_url=database, issuer=issuer), port))
        context = stack.enter_context(served(create_context(
            data_dir=folder / "context", jsonld_remote=False, auth="required", jwks_url=f"{issuer}/jwks", issuers=[issuer]),
            free_port()))
        yield SecuredTwin(context, f"{issuer}/token", secret)


def service_check(tmp_path: Path, twin: SecuredTwin, **credentials: str) -> httpx.Response:
    app = create_permit_check(data_dir=tmp_path / "permit", context_url=twin.context_url, **credentials)
    with served(app, free_port()) as url:
        return httpx.post(f"{url}/v1/checks", json=plan(height=30.0), timeout=30)


def test_imports_and_checks_with_client_credentials(secured: SecuredTwin, tmp_path: Path) -> None:
    (tmp_path / "parcels.geojson").write_text(json.dumps(parcels()))
    zoning = runner.invoke(app, ["permit", "import-zoning", str(SPIJKENISSE), "--status", "vastgesteld", *secured.credentials()])
    assert zoning.exit_code == 0, zoning.output
    lots = runner.invoke(app, ["permit", "import-parcels", str(tmp_path / "parcels.geojson"), *secured.credentials()])
    assert lots.exit_code == 0 and "Imported 1 parcels" in lots.output, lots.output

    checked = runner.invoke(app, ["permit", "check", write(tmp_path, "plan.json", plan(height=30.0)), *secured.credentials()])
    assert checked.exit_code == 0 and "Verdict: compliant" in checked.output, checked.output
    response = service_check(tmp_path, secured, client_id="permit-check", client_secret=secured.secret,
                             token_url=secured.token_url)
    assert response.status_code == 201, response.text
    assert response.json()["verdict"] == "compliant"

    # the plan again without one of its maatvoeringen: that one goes, the other seven stay
    tree = etree.parse(SPIJKENISSE)
    [element] = tree.xpath("//*[@gml:id=$id]", id=HEIGHT_24, namespaces={"gml": "http://www.opengis.net/gml/3.2"})
    element.getparent().getparent().remove(element.getparent())
    tree.write(tmp_path / "trimmed.gml")
    again = runner.invoke(app, ["permit", "import-zoning", str(tmp_path / "trimmed.gml"), "--status", "vastgesteld",
                                *secured.credentials()])
    assert again.exit_code == 0, again.output
    assert "7 zoning features (0 added, 7 updated, 1 removed)" in again.output


def test_without_credentials_the_refusal_says_what_to_set(secured: SecuredTwin, tmp_path: Path) -> None:
    response = service_check(tmp_path, secured)
    assert response.status_code == 502, response.text
    detail = response.json()["detail"]
    assert "refused the permit check's credentials" in response.json()["title"]
    assert "401" in detail and "OUP_PERMIT_CHECK_CLIENT_ID" in detail and "context:read" in detail

    checked = runner.invoke(app, ["permit", "check", write(tmp_path, "plan.json", plan()), "--context-url", secured.context_url])
    assert checked.exit_code == 2 and "refused the permit check's credentials" in checked.output, checked.output
    assert "OUP_PERMIT_CHECK_TOKEN_URL" in checked.output
    imported = runner.invoke(app, ["permit", "import-zoning", str(SPIJKENISSE), "--context-url", secured.context_url])
    assert imported.exit_code == 2 and "context:write" in imported.output, imported.output


def test_a_wrong_secret_names_the_token_endpoint(secured: SecuredTwin, tmp_path: Path) -> None:
    checked = runner.invoke(app, ["permit", "check", write(tmp_path, "plan.json", plan()), *secured.credentials("wrong")])
    assert checked.exit_code == 2, checked.output
    assert secured.token_url in checked.output and "invalid_client" in checked.output
    response = service_check(tmp_path, secured, client_id="permit-check", client_secret="wrong", token_url=secured.token_url)
    assert response.status_code == 502 and secured.token_url in response.json()["detail"], response.text

    partial = runner.invoke(app, ["permit", "check", write(tmp_path, "plan.json", plan()), "--client-id", "permit-check",
                                  "--context-url", secured.context_url])
    assert partial.exit_code == 2 and "OUP_PERMIT_CHECK_CLIENT_SECRET" in partial.output, partial.output
