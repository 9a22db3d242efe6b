"""`oup up --region`: three cities on one machine, each with its own platform, federated.

Rotterdam, Den Haag and Zuid-Holland each run identity, context, marketplace, permit check and
gateway (`oup up` in a child process, which on first start seeds that city's demo data) in their
own data folder ``<data_dir>/<city>`` at their own port offset. Before
they start, every city's folder gets:

- ``peers.json``: the other two gateways as PPI federation-peer documents, asked with a service
  token of this city's gateway (client credentials at the peer's identity MIM);
- ``peer-secrets.json`` (mode 0600): this gateway's client secret at each peer, registered in the
  peer's identity database the first time and kept for later starts;
- ``trust-list.json``: the other two identity MIMs as trusted issuers (PPI trust-list), so
  each city accepts and exchanges the others' tokens for ``context:read``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import orjson
from rich.console import Console

from mims.cli.files import write_json
from mims.cli.services import get_service, load, portal_redirect_uri, service_url

#: City name and port offset: gateway 8000 + offset, identity 8001, context 8002, marketplace 8003 and
#: permit check 8004 + offset (the offsets are wider than the ports a city uses, so none clash).
CITIES: tuple[tuple[str, int], ...] = (("rotterdam", 0), ("den-haag", 100), ("zuid-holland", 200))
SERVICES = ("identity", "context", "marketplace", "permit-check", "gateway")
PEER_SCOPE = "context:read"
PEER_TIMEOUT = 2.0
STOP_GRACE_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class City:
    name: str
    offset: int
    host: str
    data_dir: Path

    def url(self, service: str) -> str:
        return service_url(service, self.host, self.offset)

    @property
    def folder(self) -> Path:
        return self.data_dir / self.name


def cities(host: str, data_dir: Path) -> list[City]:
    return [City(name, offset, host, data_dir) for name, offset in CITIES]


def prepare(region: list[City], console: Console) -> dict[str, dict[str, str]]:
    """Write each city's peers, secrets and trust list; the environment each city's `oup up` gets."""
    environments = {}
    for city in region:
        city.folder.mkdir(parents=True, exist_ok=True)
        console.print(f"[bold]{city.name}[/bold]: {city.folder}")
        load(get_service("identity").first_start)(data_dir=city.folder,
                                                  redirect_uri=portal_redirect_uri(city.host, city.offset))
    for city in region:
        others = [other for other in region if other is not city]
        secrets = _peer_secrets(city, others)
        peers = [
            {
                "name": other.name,
                "base_url": other.url("gateway"),
                "issuer": other.url("identity"),
                "timeout": PEER_TIMEOUT,
                "auth": {"method": "client-credentials", "token_endpoint": other.url("identity") + "/token",
                         "client_id": _client_id(city), "scope": PEER_SCOPE},
            }
            for other in others
        ]
        trust = {
            "issuers": [
                {"issuer": other.url("identity"), "jwks_uri": other.url("identity") + "/jwks", "name": other.name,
                 "scope_map": {PEER_SCOPE: [PEER_SCOPE]}, "allowed_audiences": ["urn:oup:platform"]}
                for other in others
            ]
        }
        (city.folder / "peers.json").write_bytes(orjson.dumps(peers, option=orjson.OPT_INDENT_2))
        (city.folder / "trust-list.json").write_bytes(orjson.dumps(trust, option=orjson.OPT_INDENT_2))
        environments[city.name] = {
            "OUP_GATEWAY_CITY": city.name,
            "OUP_GATEWAY_PEERS_FILE": str(city.folder / "peers.json"),
            "OUP_GATEWAY_PEER_CLIENT_SECRETS": orjson.dumps(secrets).decode(),
            "OUP_GATEWAY_TRUST_LIST_FILE": str(city.folder / "trust-list.json"),
            "OUP_IDENTITY_TRUST_LIST_FILE": str(city.folder / "trust-list.json"),
        }
    return environments


def _client_id(city: City) -> str:
    return f"gateway-{city.name}"


def _peer_secrets(city: City, others: list[City]) -> dict[str, str]:
    """This city's gateway secret at each peer: kept from an earlier start, else registered now."""
    path = city.folder / "peer-secrets.json"
    secrets: dict[str, str] = orjson.loads(path.read_bytes()) if path.exists() else {}
    for other in others:
        if other.name not in secrets:
            secrets[other.name] = asyncio.run(_register_gateway_client(other, _client_id(city)))
    write_json(path, secrets)
    return secrets


async def _register_gateway_client(peer: City, client_id: str) -> str:
    """A client_credentials client ``client_id`` with ``context:read`` in ``peer``'s identity database."""
    identity_storage = load("mims.identity.bootstrap:identity_storage")
    store_class = load("mims.identity.storage:SqlClientStore")
    register_client = load("mims.identity.clients:register_client")
    settings = load("mims.identity.service:SPEC").settings(data_dir=peer.folder)
    async with identity_storage(settings) as engine:
        registration = await register_client(
            store_class(engine), name=f"region gateway {client_id}", scopes=[PEER_SCOPE],
            platform_scopes=settings.scopes, client_id=client_id,
        )
    return registration.client_secret


def up_command(city: City, *, ready_timeout: float, demo: bool) -> list[str]:
    """The `oup up` of one city: its services at its offset, seeding its own demo unless not ``demo``."""
    return [sys.executable, "-m", "mims.cli", "up", "--host", city.host, "--data-dir", str(city.folder),
            "--port-offset", str(city.offset), "--ready-timeout", str(ready_timeout),
            *[arg for service in SERVICES for arg in ("--only", service)],
            *(("--demo-city", city.name) if demo else ("--no-demo",))]


class _Stop(Exception):
    pass


def run(*, host: str, data_dir: Path, ready_timeout: float, demo: bool = True) -> int:
    """Prepare and start the three cities (each seeding its own demo unless ``demo`` is false);
    stop all of them when one stops or on Ctrl-C/SIGTERM."""
    console = Console()
    region = cities(host, data_dir)
    environments = prepare(region, console)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stop

    for sig in previous:
        signal.signal(sig, stop)
    children: list[tuple[City, subprocess.Popen[bytes]]] = []
    try:
        for city in region:
            command = up_command(city, ready_timeout=ready_timeout, demo=demo)
            children.append((city, subprocess.Popen(command, env={**os.environ, **environments[city.name]},
                                                    start_new_session=True)))
        console.print("Region gateways: " + ", ".join(f"{c.name} {c.url('gateway')}" for c in region))
        console.print("Region view of each city: <gateway>/region/ngsi-ld/v1/entities")
        while True:
            for city, process in children:
                if process.poll() is not None:
                    console.print(f"[red]{city.name} stopped (exit code {process.returncode}); stopping the region[/red]")
                    return 1
            time.sleep(0.5)
    except _Stop:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for _, process in children:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for _, process in children:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
