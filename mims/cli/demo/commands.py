"""`oup demo seed`: load a city's living demo through its gateway (see ``mims.cli.demo``).

The seeder is a confidential client ``demo-seeder`` registered directly in the identity database
of the data folder the first time; its secret is kept in ``<data_dir>/demo-seeder.json`` (mode
0600) for later runs, so only whoever can read the data folder can seed. Should that file be gone,
the client gets a new secret.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mims.cli.files import write_json
from mims.cli.region import CITIES
from mims.cli.services import load

if TYPE_CHECKING:
    from mims.cli.demo.seed import Summary

app = typer.Typer(no_args_is_help=True)

CLIENT_ID = "demo-seeder"
CITY_NAMES = tuple(name for name, _ in CITIES)
"""The region's cities, each with a demo of its own."""
IDENTITY_DATABASE = "identity.db"


def holds_platform(data_dir: Path) -> bool:
    """Whether ``data_dir`` is a platform's data folder: its identity MIM keeps its database there,
    unless its settings give a database URL (PostgreSQL) of its own."""
    settings = load("mims.identity.service:SPEC").settings(data_dir=data_dir)
    return settings.database_url is not None or (data_dir / IDENTITY_DATABASE).exists()


def check_platform(data_dir: Path) -> None:
    """Refuse a data folder that holds no platform."""
    if not holds_platform(data_dir):
        raise typer.BadParameter(f"{data_dir} holds no platform (no {IDENTITY_DATABASE}, no identity database "
                                 f"URL): give the folder `oup up` uses", param_hint="--data-dir")


def check_city(city: str, param_hint: str = "--city") -> None:
    """Refuse a city that has no demo, naming those that have."""
    if city not in CITY_NAMES:
        raise typer.BadParameter(f"one of {', '.join(CITY_NAMES)}", param_hint=param_hint)


def seeder_secret(data_dir: Path) -> str:
    """The seeder's client secret: kept from an earlier run, else registered now with the seed's
    scopes (``mims.cli.demo.seed.SCOPES``)."""
    from mims.cli.demo.seed import SCOPES

    return demo_client_secret(data_dir, CLIENT_ID, "demo data seeder", SCOPES)


def demo_client_secret(data_dir: Path, client_id: str, name: str, scopes: Sequence[str]) -> str:
    """The secret of the demo's confidential client ``client_id``: kept in
    ``<data_dir>/<client_id>.json`` (mode 0600) from an earlier run, else registered now in the
    data folder's identity database with ``scopes`` (or, registered before but its file gone, given
    a new secret)."""
    path = data_dir / f"{client_id}.json"
    if path.exists():
        return str(orjson.loads(path.read_bytes())["client_secret"])
    secret = asyncio.run(_register(data_dir, client_id, name, scopes))
    data_dir.mkdir(parents=True, exist_ok=True)
    write_json(path, {"client_id": client_id, "client_secret": secret})
    return secret


async def _register(data_dir: Path, client_id: str, name: str, scopes: Sequence[str]) -> str:
    """``client_id`` with ``scopes`` in the identity database (directly: the demo's own clients),
    registered anew with a new secret when it exists."""
    identity_storage = load("mims.identity.bootstrap:identity_storage")
    store_class = load("mims.identity.storage:SqlClientStore")
    register_client = load("mims.identity.clients:register_client")
    reregister_client = load("mims.identity.admin:reregister_client")
    client_exists = load("mims.identity.clients:ClientExists")
    settings = load("mims.identity.service:SPEC").settings(data_dir=data_dir)
    missing = [scope for scope in scopes if scope not in settings.scopes]
    if missing:
        raise RuntimeError(f"the identity MIM offers no scope {', '.join(missing)}, which {name} needs")
    async with identity_storage(settings) as engine:
        store = store_class(engine)
        terms = {"name": name, "scopes": tuple(scopes), "platform_scopes": settings.scopes}
        try:
            registration = await register_client(store, client_id=client_id, **terms)
        except client_exists:
            registration = await reregister_client(store, client_id, **terms)
    if registration is None or registration.client_secret is None:
        raise RuntimeError(f"the client {client_id} could not be given a secret: it was removed meanwhile "
                           f"or is a public client")
    return str(registration.client_secret)


def run_seed(city: str, gateway: str, data_dir: Path, console: Console) -> Summary:
    """Seed ``city`` with progress and a summary table on ``console``; the seed's Summary.
    Raises ``mims.cli.demo.seed.SeedError`` (or RuntimeError for the client) with a clear message."""
    # Here: the demo's data and converters load only when seeding.
    from mims.cli.demo.seed import seed

    secret = seeder_secret(data_dir)
    with console.status(f"Seeding the {city} demo through {gateway}") as status:
        summary = seed(city, gateway, CLIENT_ID, secret,
                       progress=lambda step: status.update(f"Seeding the {city} demo: {escape(step)}"))
    table = Table(title=f"Demo data: {city}")
    for column in ("kind", "created", "already there"):
        table.add_column(column)
    for kind, count in summary.counts.items():
        table.add_row(kind, str(count.created), str(count.present))
    console.print(table)
    outcome = "seeded" if summary.changed else "nothing changed, everything was already there"
    console.print(f"Demo {city}: {outcome} ({summary.seconds:.1f} s).")
    return summary


@app.command()
def seed(
    gateway: Annotated[str, typer.Option(help="The city's gateway")] = "http://127.0.0.1:8000",
    city: Annotated[str, typer.Option(help=f"Which city's demo: {', '.join(CITY_NAMES)}")] = "rotterdam",
    data_dir: Annotated[Path, typer.Option(help="The platform's data folder (for the seeder's client)")] = Path("data"),
) -> None:
    """Load the living demo of a city into a running platform, through its gateway: digital twin
    entities, zoning plans and catalogue entries with offers. Running it again changes nothing."""
    check_city(city)
    check_platform(data_dir)
    console = Console(highlight=False)
    from mims.cli.demo.seed import SeedError

    try:
        run_seed(city, gateway, data_dir, console)
    except (SeedError, RuntimeError) as error:
        Console(stderr=True, highlight=False).print(f"[red]Demo seed failed: {escape(str(error))}[/red]")
        raise typer.Exit(1) from None


@app.command()
def certify(
    gateway: Annotated[str, typer.Option(help="The city's gateway")] = "http://127.0.0.1:8000",
    city: Annotated[str, typer.Option(help=f"The city, which names the runs: {', '.join(CITY_NAMES)}")] = "rotterdam",
    data_dir: Annotated[Path, typer.Option(help="The platform's data folder (clients, conformance folder)")]
    = Path("data"),
    context: Annotated[Optional[str], typer.Option(help="The context MIM's own URL [default: beside the gateway, "
                                                       "as `oup up` places it]")] = None,
) -> None:
    """Certify the city's own MIMs (identity, context, permit check) with the conformance suite as an
    illustrative demo authority, keeping the runs where the portal's /certificates page reads them.
    Every call runs the checks afresh and replaces the earlier runs."""
    check_city(city)
    check_platform(data_dir)
    from mims.cli.demo.certify import CertifyError  # here: the suite loads only now
    from mims.cli.demo.certify import certify as run_certify

    console = Console(highlight=False)
    try:
        with console.status(f"Certifying the {city} demo's MIMs through {gateway}"):
            certification = run_certify(city, gateway, data_dir, context)
    except (CertifyError, RuntimeError) as error:
        Console(stderr=True, highlight=False).print(f"[red]Demo certification failed: {escape(str(error))}[/red]")
        raise typer.Exit(1) from None
    table = Table(title=f"Demo certificates: {city}")
    for column in ("MIM", "target", "passed", "failed", "not run", "certified", "seconds"):
        table.add_column(column)
    for outcome in certification.outcomes:
        counts = outcome.counts
        table.add_row(outcome.mim, outcome.target, str(counts["passed"]), str(counts["failed"] + counts["error"]),
                      str(counts["not-run"]), "[green]yes[/green]" if outcome.certified else "[red]no[/red]",
                      f"{outcome.seconds:.1f}")
    console.print(table)
    console.print(certification.one_line())
    console.print(f"Runs in {data_dir / 'conformance' / 'runs'}; shown at {gateway.rstrip('/')}/certificates.")
