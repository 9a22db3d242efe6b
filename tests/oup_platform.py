"""The whole platform as a user runs it: ``oup up`` with its demo (first start seeds Rotterdam and
certifies its MIMs in the background), every service its own process, on ports shifted to a free
range. How tests see it: its addresses, what first start printed, the demo users and clients, and
the entities the Rotterdam demo defines."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import httpx
import pytest
from serving import free_port_offset, oup_up
from signing_in import demo_passwords

from mims.cli.demo import rotterdam
from mims.cli.demo.city import Layer
from mims.cli.services import SERVICES

#: What the supervisor prints once every service answers.
#: The environment of an `oup` command whose tables must not wrap (a test worker has no terminal).
WIDE = {**os.environ, "COLUMNS": "200"}
READY = "All services ready"


@cache
def layers() -> tuple[Layer, ...]:
    """The Rotterdam demo's layers (what they hold does not depend on the time or the gateway)."""
    return tuple(rotterdam.demo(datetime.now(UTC), "http://127.0.0.1:8000").layers)


def expected_counts() -> dict[str, int]:
    """Entities per type (full IRI) the demo defines."""
    return {layer.type_iri: len(layer.entities) for layer in layers()}


@dataclass(frozen=True)
class Platform:
    """A running platform as its user sees it."""

    gateway: str
    identity: str
    data_dir: Path
    #: Everything ``oup up`` printed until all services were ready.
    printed: str
    #: The demo users' passwords by username, shown once on first start.
    passwords: dict[str, str]
    #: A client of the gateway.
    http: httpx.Client

    @property
    def redirect_uri(self) -> str:
        """Where the identity sends a person back to the demo portal (served by the gateway)."""
        return f"{self.gateway}/auth/callback"

    def secret(self, client_id: str) -> str:
        """The client secret of demo client ``client_id``, shown once on first start."""
        found = re.search(rf"client_id:\s+{re.escape(client_id)}\s+client_secret:\s+(\S+)", self.printed)
        assert found, f"no secret of {client_id} in what oup up printed:\n{self.printed}"
        return found[1]

    def token(self, client_id: str, secret: str, scope: str) -> dict[str, str]:
        """An authorization header with a client-credentials token for ``scope``."""
        token_url = self.http.get("/.well-known/oauth-authorization-server").json()["token_endpoint"]
        response = httpx.post(token_url, auth=(client_id, secret), data={"grant_type": "client_credentials", "scope": scope})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def counts(self) -> dict[str, int]:
        """Entities in the twin per type the demo defines."""
        reader = self.token("demo-context-reader", self.secret("demo-context-reader"), "context:read")
        counts = {}
        for type_name in expected_counts():
            response = self.http.get("/ngsi-ld/v1/entities", params={"type": type_name, "count": "true", "limit": 0},
                                     headers=reader)
            assert response.status_code == 200, response.text
            counts[type_name] = int(response.headers["NGSILD-Results-Count"])
        return counts


@contextmanager
def demo_platform(folder: Path) -> Iterator[Platform]:
    """``oup up`` with its demo and its data in ``folder``/data, until every service is ready;
    stopped afterwards. A start that ends before that fails the test asking for it."""
    offset = free_port_offset([service.port for service in SERVICES.values()])
    data_dir = folder / "data"
    with oup_up(data_dir, offset, demo=True) as (_, printed):
        if READY not in printed:
            pytest.fail(f"oup up stopped before every service was ready:\n{printed}")
        gateway = f"http://127.0.0.1:{SERVICES['gateway'].port + offset}"
        with httpx.Client(base_url=gateway, timeout=30.0) as http:
            yield Platform(gateway=gateway, identity=f"http://127.0.0.1:{SERVICES['identity'].port + offset}",
                           data_dir=data_dir, printed=printed, passwords=demo_passwords(printed), http=http)
