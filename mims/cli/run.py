"""`oup serve` (one service in this process) and `oup up` (every service, supervised)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
import uvicorn

from mims.cli.demo.commands import CITY_NAMES, check_city
from mims.cli.region import run as run_region
from mims.cli.services import SERVICES, get_service, load, portal_redirect_uri
from mims.cli.supervisor import Supervisor


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
    app = load(service.factory)(**{k: v for k, v in given.items() if v is not None})
    settings = app.state.settings
    if service.first_start is not None:
        load(service.first_start)(settings=settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)


def up(
    host: Annotated[str, typer.Option(help="Interface every service listens on")] = "127.0.0.1",
    data_dir: Annotated[Path, typer.Option(help="Folder for the services' data")] = Path("data"),
    port_offset: Annotated[int, typer.Option(help="Added to every fixed port")] = 0,
    only: Annotated[Optional[list[str]], typer.Option(help="Run only these services")] = None,
    ready_timeout: Annotated[float, typer.Option(help="Seconds to wait for readiness")] = 60.0,
    region: Annotated[
        bool, typer.Option("--region", help="Three federated cities (rotterdam, den-haag, zuid-holland)")
    ] = False,
    no_demo: Annotated[bool, typer.Option("--no-demo", help="Do not seed (nor certify) the demo on first start")] = False,
    demo_city: Annotated[str, typer.Option(help=f"Whose demo data first start seeds: {', '.join(CITY_NAMES)}")]
    = "rotterdam",
) -> None:
    """Start every MIM as its own process, wait until ready, stop all on Ctrl-C or SIGTERM.

    On first start the identity MIM's admin and demo clients are created and their credentials
    printed once, and (unless --no-demo) the demo city's data is seeded through the gateway and,
    once every service is ready, its MIMs are certified in the background (`oup demo certify`).
    On every start the portal's sign-in may return to the gateway of that start.
    """
    check_city(demo_city, "--demo-city")
    if region:
        if only or port_offset:
            raise typer.BadParameter("--region sets the services and ports of each city itself", param_hint="--region")
        raise typer.Exit(run_region(host=host, data_dir=data_dir, ready_timeout=ready_timeout, demo=not no_demo))
    names = only or list(SERVICES)
    try:
        services = [get_service(n) for n in names]
    except LookupError as exc:
        raise typer.BadParameter(str(exc), param_hint="--only") from None
    for service in services:
        if service.first_start is not None:
            # Here rather than in the child, so what it prints shows before the services' output.
            # On every start: the portal's redirect URI follows the gateway's address of this start.
            load(service.first_start)(data_dir=data_dir, redirect_uri=portal_redirect_uri(host, port_offset))
    supervisor = Supervisor(services, host=host, data_dir=data_dir, port_offset=port_offset,
                            demo_city=None if no_demo else demo_city)
    raise typer.Exit(supervisor.run(ready_timeout=ready_timeout))
