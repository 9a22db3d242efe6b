"""The `oup` command line: one entry point for running and inspecting the platform."""

from __future__ import annotations

import typer

import conformance.cli
from mims.cli import ppi, run
from mims.cli.demo import commands as demo
from mims.cli.services import SERVICES, Service, load

app = typer.Typer(
    name="oup",
    help="Open Urban Platform: run the MIMs, inspect PPIs, certify components.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(run.serve)
app.command()(run.up)
app.add_typer(ppi.app, name="ppi", help="Inspect, validate and compare PPI contracts.")
app.add_typer(demo.app, name="demo", help="The living demo: seed a city's data through its gateway, certify its MIMs.")
app.add_typer(conformance.cli.app, name="conformance",
              help="Certify a component against a MIM: run, list, keygen, verify.")


def _admin_command(service: Service) -> None:
    """`oup <service> ...` (or its own command name): the MIM's admin commands, imported only when run."""
    name = service.admin_command

    @app.command(name, help=f"Administer {service.name}: `oup {name} --help` lists its commands.",
                 context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []})
    def admin(context: typer.Context) -> None:
        assert service.admin is not None
        typer.main.get_command(load(service.admin))(args=context.args, prog_name=f"oup {name}")


for _service in SERVICES.values():
    if _service.admin is not None:
        _admin_command(_service)


def main() -> None:
    app()
