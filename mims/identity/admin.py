"""`oup identity`: administer the identity MIM's clients and signing keys.

The commands work directly on the MIM's storage (the database its service uses, chosen by the
same data folder and database URL settings), not over HTTP. Secrets are printed once, to the
console, and never logged. The `oup` command loads this module by its import path (see
``mims.cli.services``) only when ``oup identity`` runs or identity first starts.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mims.identity.bootstrap import bootstrap_clients, identity_storage
from mims.identity.clients import (
    ClientExists,
    InvalidClientMetadata,
    Registration,
    parse_scopes,
    register_client,
)
from mims.identity.keys import rotate_signing_key
from mims.identity.service import SPEC
from mims.identity.settings import IdentitySettings
from mims.identity.storage import SqlClientStore, SqlSigningKeyStore

app = typer.Typer(no_args_is_help=True)

DataDir = Annotated[Path | None, typer.Option(help="Data folder of the identity MIM [default: data]")]
DatabaseUrl = Annotated[str | None, typer.Option(help="Database URL [default: SQLite in the data folder]")]


def _settings(**overrides: Any) -> IdentitySettings:
    settings = SPEC.settings(**{name: value for name, value in overrides.items() if value is not None})
    assert isinstance(settings, IdentitySettings)
    return settings


def _console() -> Console:
    # Secrets and ids must never be cut or wrapped, whatever the terminal width.
    return Console(highlight=False, soft_wrap=True)


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False).print(f"[red]{escape(message)}[/red]")
    return typer.Exit(1)


def print_registrations(registrations: list[Registration], console: Console, *, title: str) -> None:
    """Client ids and secrets, once; the only place a secret is ever shown."""
    console.print(f"[bold]{escape(title)}[/bold] (the secrets are shown only now; store them safely)")
    for registration in registrations:
        client = registration.client
        console.print(f"  client_id:     {client.client_id}", markup=False)
        console.print(f"  client_secret: {registration.client_secret}", markup=False)
        console.print(f"  scopes:        {' '.join(client.scopes)}", markup=False)


@app.command("add-client")
def add_client(
    name: Annotated[str, typer.Argument(help="Human-readable name of the client")],
    scope: Annotated[list[str], typer.Option("--scope", help="A scope the client may ask for (repeatable)")],
    grant: Annotated[list[str], typer.Option("--grant", help="A grant type (repeatable)")] = ["client_credentials"],  # noqa: B006
    auth_method: Annotated[str, typer.Option(help="Token endpoint authentication method")] = "client_secret_basic",
    client_id: Annotated[str | None, typer.Option(help="Client id [default: random]")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Register a confidential client; prints its client_id and secret (shown only this once)."""
    settings = _settings(data_dir=data_dir, database_url=database_url)
    scopes = [token for text in scope for token in parse_scopes(text)]

    async def register() -> Registration:
        async with identity_storage(settings) as engine:
            return await register_client(
                SqlClientStore(engine),
                name=name,
                scopes=scopes,
                platform_scopes=settings.scopes,
                grant_types=grant,
                token_endpoint_auth_method=auth_method,
                client_id=client_id,
            )

    try:
        registration = asyncio.run(register())
    except (InvalidClientMetadata, ClientExists) as exc:
        raise _fail(str(exc)) from None
    print_registrations([registration], _console(), title=f"Registered client {name!r}")


@app.command("list-clients")
def list_clients(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """The registered clients (never their secrets)."""
    settings = _settings(data_dir=data_dir, database_url=database_url)

    async def load() -> list:
        async with identity_storage(settings) as engine:
            return await SqlClientStore(engine).all()

    table = Table(title="Identity clients")
    table.add_column("client_id", no_wrap=True)
    for column in ("name", "scopes", "grant types", "auth method", "created (UTC)"):
        table.add_column(column, overflow="fold")
    for client in asyncio.run(load()):
        table.add_row(
            client.client_id,
            client.name,
            " ".join(client.scopes),
            " ".join(client.grant_types),
            client.token_endpoint_auth_method,
            client.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        )
    Console(highlight=False).print(table)


@app.command("rotate-keys")
def rotate_keys(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """A new ES256 signing key; the previous one stays in /jwks for the key_overlap setting.

    A running identity service picks the new key up within ``service.KEY_RELOAD_INTERVAL``.
    """
    settings = _settings(data_dir=data_dir, database_url=database_url)

    async def rotate():
        async with identity_storage(settings) as engine:
            return await rotate_signing_key(SqlSigningKeyStore(engine), overlap=timedelta(seconds=settings.key_overlap))

    key, retired = asyncio.run(rotate())
    console = _console()
    console.print(f"New signing key: {key.kid}", markup=False)
    for old in retired:
        until = old.retired_at.strftime("%Y-%m-%d %H:%M:%S UTC") if old.retired_at else "now"
        console.print(f"Previous key {old.kid} stays published until {until}", markup=False)


def first_start(*, settings: IdentitySettings | None = None, console: Console | None = None, **overrides: Any) -> None:
    """On first start (no client yet): register the admin and demo clients and print them once.

    ``settings`` are the service's own; without them they are read with ``overrides`` on top.
    """
    settings = settings if settings is not None else _settings(**overrides)

    async def run() -> list[Registration]:
        async with identity_storage(settings) as engine:
            return await bootstrap_clients(SqlClientStore(engine), settings.scopes)

    registrations = asyncio.run(run())
    if registrations:
        print_registrations(registrations, console or _console(), title="First start: clients created")
