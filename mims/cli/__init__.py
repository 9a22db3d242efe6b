"""The `oup` command line: one entry point for running and inspecting the platform."""

from __future__ import annotations

import typer

from mims.cli import identity, ppi, run

app = typer.Typer(
    name="oup",
    help="Open Urban Platform: run the MIMs, inspect PPIs, certify components.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(run.serve)
app.command()(run.up)
app.add_typer(ppi.app, name="ppi", help="Inspect, validate and compare PPI contracts.")
app.add_typer(identity.app, name="identity", help="Administer the identity MIM: clients and signing keys.")


def main() -> None:
    app()
