"""The demo platform as its tests see it: addresses, what first start printed, clients' tokens,
and the entities the Rotterdam demo defines."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import httpx

from mims.cli.demo import rotterdam
from mims.cli.demo.city import Layer

WIDE = {**os.environ, "COLUMNS": "200"}


@cache
def layers() -> tuple[Layer, ...]:
    """The Rotterdam demo's layers (what they hold does not depend on the time or the gateway)."""
    return tuple(rotterdam.demo(datetime.now(UTC), "http://127.0.0.1:8000").layers)


def expected_counts() -> dict[str, int]:
    """Entities per type (full IRI) the demo defines."""
    return {layer.type_iri: len(layer.entities) for layer in layers()}


class Platform:
    def __init__(self, gateway: str, data_dir: Path, printed: str):
        self.gateway, self.data_dir, self.printed = gateway, data_dir, printed
        self.http = httpx.Client(base_url=gateway, timeout=30.0)

    def close(self) -> None:
        self.http.close()

    def secret(self, client_id: str) -> str:
        match = re.search(rf"client_id:\s+{client_id}\s+client_secret:\s+(\S+)", self.printed)
        assert match, f"no secret of {client_id} printed on first start"
        return match.group(1)

    def token(self, client_id: str, secret: str, scope: str) -> dict[str, str]:
        token_url = self.http.get("/.well-known/oauth-authorization-server").json()["token_endpoint"]
        response = httpx.post(token_url, auth=(client_id, secret), data={"grant_type": "client_credentials", "scope": scope})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def counts(self) -> dict[str, int]:
        reader = self.token("demo-context-reader", self.secret("demo-context-reader"), "context:read")
        counts = {}
        for type_name in expected_counts():
            response = self.http.get("/ngsi-ld/v1/entities", params={"type": type_name, "count": "true", "limit": 0},
                                     headers=reader)
            assert response.status_code == 200, response.text
            counts[type_name] = int(response.headers["NGSILD-Results-Count"])
        return counts
