"""`oup permit`: check a building plan from the command line, and import zoning plans and
parcels into the digital twin (the context MIM, over HTTP).

`check` exits 0 when the plan complies or cannot be decided, 1 when it does not comply, and 2
when the plan, the municipality or the twin is unusable (the imports exit 2 likewise). Towards a
context MIM that checks tokens itself, each command obtains client-credentials tokens with the
permit check's client (``--client-id`` etc. or the settings). The `oup` command loads this module by
its import path (see ``mims.cli.services``) only when it is run.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mims.kit.geo.imro import read_plan as read_zoning_plan
from mims.kit.problems import ProblemError
from mims.permit_check import checks, twin
from mims.permit_check.service import SPEC
from mims.permit_check.settings import PermitCheckSettings

app = typer.Typer(no_args_is_help=True)

STATUSES = ("concept", "voorontwerp", "ontwerp", "vastgesteld", "geconsolideerd", "vervallen")
VERDICT_STYLE = {"pass": "green", "fail": "bold red", "not-applicable": "dim", "insufficient-data": "yellow",
                 "compliant": "bold green", "non-compliant": "bold red"}

ContextUrl = Annotated[str | None, typer.Option(
    help="The context MIM's base URL [default: OUP_PERMIT_CHECK_CONTEXT_URL, else http://127.0.0.1:8002]")]
ClientId = Annotated[str | None, typer.Option(
    help="The permit check's client at the identity MIM, for a context MIM that checks tokens itself "
         "[default: OUP_PERMIT_CHECK_CLIENT_ID, else no token]")]
ClientSecret = Annotated[str | None, typer.Option(
    help="Its secret (better in the environment) [default: OUP_PERMIT_CHECK_CLIENT_SECRET]")]
TokenUrl = Annotated[str | None, typer.Option(
    help="The identity MIM's token endpoint [default: OUP_PERMIT_CHECK_TOKEN_URL]")]


def _settings(context_url: str | None, client_id: str | None, client_secret: str | None,
              token_url: str | None) -> PermitCheckSettings:
    """The settings with the options given on top."""
    given = {"context_url": context_url, "client_id": client_id, "client_secret": client_secret, "token_url": token_url}
    try:
        settings = SPEC.settings(**{name: value for name, value in given.items() if value is not None})
    except ValidationError as error:
        raise typer.BadParameter("; ".join(e["msg"] for e in error.errors())) from None
    assert isinstance(settings, PermitCheckSettings)
    return settings


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _fail(error: ProblemError) -> typer.Exit:
    """Print a problem (and where) and give the exit code 2."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(f"[red]{escape(error.title)}[/red]: {escape(error.detail or '')}")
    for item in error.errors[:20]:
        console.print(f"  {escape(item.location)} {escape(item.pointer or '/')}: {escape(item.detail)}")
    return typer.Exit(2)


@app.command()
def check(
    plan: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="building-plan JSON, CityJSON or IFC file")],
    municipality: Annotated[str, typer.Option(help="Whose rule set applies")] = "default",
    context_url: ContextUrl = None,
    crs: Annotated[str | None, typer.Option(help="CityJSON without a CRS: e.g. EPSG:7415")] = None,
    object: Annotated[str | None, typer.Option(help="The building: CityJSON object id or IFC GlobalId")] = None,
    origin: Annotated[str | None, typer.Option(
        help="IFC without georeference: easting,northing[,rotation] in EPSG:28992")] = None,
    lang: Annotated[str, typer.Option(help="Language of the explanations: nl or en")] = "en",
    as_json: Annotated[bool, typer.Option("--json", help="Print the permit-decision document instead")] = False,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    token_url: TokenUrl = None,
) -> None:
    """Check a building plan against the zoning in the digital twin and print the verdict per rule."""
    if lang not in ("nl", "en"):
        raise typer.BadParameter("nl or en", param_hint="--lang")
    body = plan.read_bytes()
    settings = _settings(context_url, client_id, client_secret, token_url)
    try:
        ruleset = checks.ruleset_of(municipality)
        kind = checks.IFC if plan.suffix.lower() == ".ifc" else checks.input_format("application/json", body)
        document = checks.read_plan(kind, body, crs=crs, object_id=object, origin=_origin(origin))
        decision = asyncio.run(_check(settings, document, ruleset))
    except ProblemError as error:
        raise _fail(error) from None
    console = _console()
    if as_json:
        console.print_json(json.dumps(decision))
    else:
        _print(console, decision, lang)
    raise typer.Exit(1 if decision["verdict"] == "non-compliant" else 0)


async def _check(settings: PermitCheckSettings, plan: dict[str, Any], ruleset: dict[str, Any]) -> dict[str, Any]:
    async with twin.twin_client(settings, twin.READ) as client:
        return (await checks.check_plan(client, settings.context_url, plan, ruleset)).decision


def _origin(text: str | None) -> tuple[float, float, float] | None:
    if text is None:
        return None
    try:
        numbers = [float(part) for part in text.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) not in (2, 3):
        raise typer.BadParameter("easting,northing[,rotation], e.g. 92500,437200,30", param_hint="--origin")
    return (numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else 0.0)


def _print(console: Console, decision: dict[str, Any], lang: str) -> None:
    ruleset = decision["ruleSet"]
    table = Table(title=f"Permit check ({ruleset['municipality']} {ruleset['version']})")
    for column in ("rule", "verdict", "measured", "limit", "explanation"):
        table.add_column(column, overflow="fold")
    for result in decision["results"]:
        verdict = result["verdict"]
        table.add_row(escape(result["rule"]), f"[{VERDICT_STYLE[verdict]}]{verdict}[/]",
                      _quantity(result["measured"]), _limit(result), escape(result["explanation"][lang]))
    console.print(table)
    verdict = decision["verdict"]
    console.print(f"Verdict: [{VERDICT_STYLE.get(verdict, 'yellow')}]{verdict}[/]")
    console.print(f"Input hash: {decision['inputHash']}")


def _quantity(quantity: dict[str, Any] | None) -> str:
    if quantity is None:
        return "-"
    value = quantity["value"]
    shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return escape(f"{shown} {quantity['unit']}" if quantity["unit"] else shown)


def _limit(result: dict[str, Any]) -> str:
    if result["limit"] is None:
        return "-"
    return escape(result["comparator"] + " ") + _quantity(result["limit"])


@app.command("import-zoning")
def import_zoning(
    gml: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="IMRO2012 GML zoning plan")],
    context_url: ContextUrl = None,
    status: Annotated[str | None, typer.Option(
        help=f"Record the plan with this planstatus instead of its own ({', '.join(STATUSES)}); only plans "
             "vastgesteld or geconsolideerd count in checks, so a demo may import a draft as adopted")] = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    token_url: TokenUrl = None,
) -> None:
    """Import an IMRO2012 zoning plan into the digital twin as NGSI-LD entities.

    A plan imported before is replaced: features it had that this file lacks are removed (after
    the new ones are written). The client needs the scopes context:read and context:write.
    """
    if status is not None and status not in STATUSES:
        raise typer.BadParameter(f"one of {', '.join(STATUSES)}", param_hint="--status")
    settings = _settings(context_url, client_id, client_secret, token_url)
    try:
        plan = read_zoning_plan(gml)
        if status is not None:
            plan["status"] = status
        entities = twin.plan_entities(plan)
        changes = asyncio.run(_publish_plan(settings, entities))
    except ProblemError as error:
        raise _fail(error) from None
    _console().print(f"Imported {escape(plan['id'])} ({escape(plan['name'])}, {plan.get('status')}): "
                     f"{len(entities) - 1} zoning features ({changes.added} added, {changes.updated} updated, "
                     f"{changes.removed} removed); {len(plan.get('unmapped', []))} unmapped items.")


@app.command("import-parcels")
def import_parcels(
    geojson: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="BRK parcels, GeoJSON in EPSG:28992")],
    context_url: ContextUrl = None,
    client_id: ClientId = None,
    client_secret: ClientSecret = None,
    token_url: TokenUrl = None,
) -> None:
    """Import cadastral parcels into the digital twin as NGSI-LD entities.

    Additive: a file may hold part of the parcels, so parcels in the twin that it lacks stay.
    The client needs the scope context:write.
    """
    try:
        collection = json.loads(geojson.read_text("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise typer.BadParameter(f"not JSON: {error}", param_hint="GEOJSON") from None
    settings = _settings(context_url, client_id, client_secret, token_url)
    try:
        entities = twin.parcel_entities(collection)
        asyncio.run(_publish(settings, entities))
    except ProblemError as error:
        raise _fail(error) from None
    _console().print(f"Imported {len(entities)} parcels.")


async def _publish(settings: PermitCheckSettings, entities: list[dict[str, Any]]) -> None:
    async with twin.twin_client(settings, twin.WRITE) as client:
        await twin.publish(client, settings.context_url, entities)


async def _publish_plan(settings: PermitCheckSettings, entities: list[dict[str, Any]]) -> twin.PlanChanges:
    async with twin.twin_client(settings, f"{twin.READ} {twin.WRITE}") as client:
        return await twin.publish_plan(client, settings.context_url, entities)
