"""`oup identity`: administer the identity MIM's clients, users and signing keys.

The commands work directly on the MIM's storage (the database its service uses, chosen by the
same data folder and database URL settings), not over HTTP. Secrets are printed once, to the
console, and never logged. The `oup` command loads this module by its import path (see
``mims.cli.services``) only when ``oup identity`` runs or identity first starts.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mims.identity.bootstrap import (
    DEMO_PORTAL,
    DEMO_PORTAL_REDIRECT_URI,
    bootstrap_clients,
    bootstrap_sign_in,
    identity_storage,
)
from mims.identity.clients import (
    ClientExists,
    InvalidClientMetadata,
    Registration,
    check_redirect_uri,
    new_client,
    parse_scopes,
    register_client,
)
from mims.identity.initial_access_tokens import (
    DEFAULT_LIFETIME,
    InvalidTokenTerms,
    IssuedToken,
    SqlInitialAccessTokenStore,
    issue_initial_access_token,
)
from mims.identity.keys import SIGNING_ALGORITHMS, rotate_signing_key
from mims.identity.service import SPEC
from mims.identity.settings import IdentitySettings
from mims.identity.storage import SqlClientStore, SqlSigningKeyStore
from mims.identity.user_storage import SqlUserStore
from mims.identity.users import ROLES, InvalidUser, User, UserExists, register_user

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
        secret = registration.client_secret or "(none: a public client, which uses PKCE)"
        console.print(f"  client_secret: {secret}", markup=False)
        console.print(f"  scopes:        {' '.join(client.scopes)}", markup=False)


@app.command("add-client")
def add_client(
    name: Annotated[str, typer.Argument(help="Human-readable name of the client")],
    scope: Annotated[list[str], typer.Option("--scope", help="A scope the client may ask for (repeatable)")],
    grant: Annotated[list[str], typer.Option("--grant", help="A grant type (repeatable)")] = ["client_credentials"],  # noqa: B006
    auth_method: Annotated[
        str, typer.Option(help="Token endpoint authentication method; 'none' registers a public client")
    ] = "client_secret_basic",
    redirect_uri: Annotated[
        list[str], typer.Option("--redirect-uri", help="A redirect URI, for authorization_code (repeatable)")
    ] = [],  # noqa: B006
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
                redirect_uris=redirect_uri,
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


@app.command("add-initial-access-token")
def add_initial_access_token(
    scope: Annotated[
        list[str] | None,
        typer.Option("--scope", help="A scope clients registered with it may get (repeatable) [default: all but admin]"),
    ] = None,
    expires_in: Annotated[int, typer.Option(help="Seconds until it expires")] = DEFAULT_LIFETIME,
    max_uses: Annotated[int | None, typer.Option(help="Registrations it admits [default: unlimited]")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """An initial access token for RFC 7591 registration at /register; printed once."""
    settings = _settings(data_dir=data_dir, database_url=database_url)
    scopes = [token for text in scope for token in parse_scopes(text)] if scope else None

    async def issue() -> IssuedToken:
        async with identity_storage(settings) as engine:
            return await issue_initial_access_token(
                SqlInitialAccessTokenStore(engine),
                platform_scopes=settings.scopes,
                scopes=scopes,
                expires_in=expires_in,
                max_uses=max_uses,
            )

    try:
        issued = asyncio.run(issue())
    except InvalidTokenTerms as exc:
        raise _fail(str(exc)) from None
    console = _console()
    console.print("[bold]Initial access token[/bold] (shown only now; store it safely)")
    console.print(f"  initial_access_token: {issued.token}", markup=False)
    console.print(f"  scopes:               {' '.join(issued.record.scopes)}", markup=False)
    console.print(f"  expires_at:           {issued.record.expires_at:%Y-%m-%d %H:%M:%S} UTC", markup=False)
    console.print(f"  max_uses:             {issued.record.max_uses or 'unlimited'}", markup=False)


@app.command("rotate-keys")
def rotate_keys(
    alg: Annotated[
        str | None,
        typer.Option(
            help=f"JWS algorithm of the new key, one of {', '.join(SIGNING_ALGORITHMS)} (default: the signing_alg setting)"
        ),
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """A new signing key; the previous one stays in /jwks for the key_overlap setting.

    A running identity service picks the new key up within ``service.KEY_RELOAD_INTERVAL``.
    """
    if alg is not None and alg not in SIGNING_ALGORITHMS:
        raise _fail(f"--alg must be one of {', '.join(SIGNING_ALGORITHMS)}, not {alg!r}")
    settings = _settings(data_dir=data_dir, database_url=database_url, signing_alg=alg)

    async def rotate():
        async with identity_storage(settings) as engine:
            return await rotate_signing_key(
                SqlSigningKeyStore(engine), overlap=timedelta(seconds=settings.key_overlap), alg=settings.signing_alg
            )

    key, retired = asyncio.run(rotate())
    console = _console()
    console.print(f"New signing key: {key.kid} ({key.alg})", markup=False)
    for old in retired:
        until = old.retired_at.strftime("%Y-%m-%d %H:%M:%S UTC") if old.retired_at else "now"
        console.print(f"Previous key {old.kid} stays published until {until}", markup=False)


@app.command("add-user")
def add_user(
    username: Annotated[str, typer.Argument(help="The name the user signs in with")],
    role: Annotated[list[str], typer.Option("--role", help=f"A role: {', '.join(ROLES)} (repeatable)")],
    name: Annotated[str | None, typer.Option(help="Display name [default: the username]")] = None,
    email: Annotated[str | None, typer.Option(help="Email address, released with scope email")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of standard input")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Register a user who signs in at /authorize; the password is asked (hidden, twice), never echoed."""
    settings = _settings(data_dir=data_dir, database_url=database_url)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def register() -> User:
        async with identity_storage(settings) as engine:
            return await register_user(
                SqlUserStore(engine), username=username, password=password, roles=role, name=name, email=email
            )

    try:
        user = asyncio.run(register())
    except (InvalidUser, UserExists) as exc:
        raise _fail(str(exc)) from None
    console = _console()
    console.print(f"Registered user {user.username!r} with roles {' '.join(user.roles)}", markup=False)
    console.print(f"  sub: {user.user_id}", markup=False)


async def reregister_client(store: SqlClientStore, client_id: str, platform_scopes: Iterable[str],
                            **changes: Any) -> Registration | None:
    """Client ``client_id`` with ``changes`` to its terms (``name``, ``scopes``, ``redirect_uris``,
    ...) and, when confidential, a new secret (the old one stops working). None when there is no
    such client; InvalidClientMetadata when the new terms are refused, leaving the client as it was."""
    client = await store.get(client_id)
    if client is None:
        return None
    terms = {"name": client.name, "scopes": client.scopes, "grant_types": client.grant_types,
             "token_endpoint_auth_method": client.token_endpoint_auth_method,
             "redirect_uris": client.redirect_uris, "metadata": client.metadata, **changes}
    registration = await new_client(platform_scopes=platform_scopes, client_id=client_id,
                                     clock=lambda: client.created_at, **terms)
    return registration if await store.replace(registration.client) else None


async def add_redirect_uri(store: SqlClientStore, client_id: str, uri: str, platform_scopes: Iterable[str]) -> bool:
    """Make the client's redirect URIs include ``uri``; whether it was added (False: it was there,
    or there is no such client). InvalidClientMetadata when ``uri`` is no valid redirect URI."""
    check_redirect_uri(uri)
    client = await store.get(client_id)
    if client is None or uri in client.redirect_uris:
        return False
    return await reregister_client(store, client_id, platform_scopes,
                                   redirect_uris=(*client.redirect_uris, uri)) is not None


def first_start(*, settings: IdentitySettings | None = None, console: Console | None = None,
                gateway_url: str | None = None, redirect_uri: str | None = None, **overrides: Any) -> None:
    """On first start (no client yet): register the admin and demo clients, the demo portal
    (redirecting to ``redirect_uri``, by default ``<gateway_url>/auth/callback``: the portal the
    gateway serves) and the demo users, and print their credentials once. On every start with a
    gateway or redirect URI given: make the portal's redirect URIs include it.

    ``settings`` are the service's own; without them they are read with ``overrides`` on top.
    """
    settings = settings if settings is not None else _settings(**overrides)
    given = redirect_uri or (f"{gateway_url.rstrip('/')}/auth/callback" if gateway_url else None)
    console = console or _console()
    if given is not None:
        try:
            check_redirect_uri(given)
        except InvalidClientMetadata as refused:
            console.print(f"[red]The portal's sign-in cannot return to {escape(given)}: {escape(str(refused))}. "
                          f"Set the gateway's public URL (OUP_GATEWAY_PUBLIC_URL) to its https address.[/red]")
            given = None
    portal_redirect_uri = given or DEMO_PORTAL_REDIRECT_URI

    async def run() -> tuple[list[Registration], list[Registration], list[tuple[User, str]]]:
        async with identity_storage(settings) as engine:
            clients = SqlClientStore(engine)
            first = not await clients.any()
            registrations = await bootstrap_clients(clients, settings.scopes)
            if first:
                portal, people = await bootstrap_sign_in(
                    clients, SqlUserStore(engine), settings.scopes, portal_redirect_uri
                )
                return registrations, portal, people
            if given is not None:
                try:
                    if await add_redirect_uri(clients, DEMO_PORTAL.client_id, given, settings.scopes):
                        console.print(f"The portal's sign-in may now return to {given}", markup=False)
                except InvalidClientMetadata as refused:  # its scopes are no longer all offered
                    console.print(f"[red]The portal's redirect URIs were left as they were: "
                                  f"{escape(str(refused))}[/red]")
            return registrations, [], []

    registrations, portal, people = asyncio.run(run())
    if registrations:
        print_registrations(registrations, console, title="First start: clients created")
    if portal or people:
        console.print("[bold]First start: demo sign-in created[/bold] (the passwords are shown only now)")
    for registration in portal:
        client = registration.client
        console.print(
            f"  portal {client.client_id} (public client, PKCE), redirect URI {' '.join(client.redirect_uris)}",
            markup=False,
        )
    for user, password in people:
        console.print(f"  user {user.username} ({' '.join(user.roles)}), password {password}", markup=False)
