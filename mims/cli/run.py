"""`oup serve` (one service in this process) and `oup up` (every service, supervised)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Annotated, Optional

import typer
import uvicorn

from mims.cli import identity
from mims.cli.services import SERVICES, get_service
from mims.cli.supervisor import Supervisor


def _load_factory(path: str):
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def serve(
    mim: Annotated[str, typer.Argument(help=f"Service to run: {', '.join(SERVICES)}")],
    host: Annotated[Optional[str], typer.Option(help="Interface [default: 127.0.0.1]")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port [default: the service's own]")] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help="Data folder [default: data]")] = None,
    public_url: Annotated[Optional[str], typer.Option(help="Base URL clients use")] = None,
) -> None:
    """Run one MIM in the foreground.

    Options given here win over OUP_<MIM>_* and OUP_* environment settings. On identity's first
    start the admin and demo clients are created and their credentials printed once.
    """
    try:
        service = get_service(mim)
    except LookupError as exc:
        raise typer.BadParameter(str(exc), param_hint="MIM") from None
    given = {"host": host, "port": port, "data_dir": data_dir, "public_url": public_url}
    app = _load_factory(service.factory)(**{k: v for k, v in given.items() if v is not None})
    settings = app.state.settings
    if service.name == "identity":
        identity.bootstrap(settings=settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)


def up(
    host: Annotated[str, typer.Option(help="Interface every service listens on")] = "127.0.0.1",
    data_dir: Annotated[Path, typer.Option(help="Folder for the services' data")] = Path("data"),
    port_offset: Annotated[int, typer.Option(help="Added to every fixed port")] = 0,
    only: Annotated[Optional[list[str]], typer.Option(help="Run only these services")] = None,
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for readiness")] = 60.0,
) -> None:
    """Start every MIM as its own process, wait until ready, stop all on Ctrl-C or SIGTERM.

    On first start the identity MIM's admin and demo clients are created and their credentials
    printed once.
    """
    names = only or list(SERVICES)
    try:
        services = [get_service(n) for n in names]
    except LookupError as exc:
        raise typer.BadParameter(str(exc), param_hint="--only") from None
    if "identity" in names:
        # Here rather than in the child, so the credentials show before the services' output.
        identity.bootstrap(data_dir=data_dir)
    supervisor = Supervisor(services, host=host, data_dir=data_dir, port_offset=port_offset)
    raise typer.Exit(supervisor.run(ready_timeout=ready_timeout))
