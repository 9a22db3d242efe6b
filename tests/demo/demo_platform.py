"""The demo platform as its tests see it: addresses, what first start printed, clients' tokens,
and the entity counts the Rotterdam demo loads."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx

from mims.cli.demo.smart_data_models import (
    AIR_QUALITY_TYPE,
    BUILDING_TYPE,
    PARKING_TYPE,
)
from mims.kit.geo.twin_entities import PARCEL, type_iri

WIDE = {**os.environ, "COLUMNS": "200"}
EXPECTED = {type_iri(PARCEL): 971, BUILDING_TYPE: 16, PARKING_TYPE: 4, AIR_QUALITY_TYPE: 3}


class Platform:
    def __init__(self, gateway: str, data_dir: Path, printed: str):
        self.gateway, self.data_dir, self.printed = gateway, data_dir, printed
        self.http = httpx.Client(base_url=gateway, timeout=30.0)

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
        for type_name in EXPECTED:
            response = self.http.get("/ngsi-ld/v1/entities", params={"type": type_name, "count": "true", "limit": 0},
                                     headers=reader)
            assert response.status_code == 200, response.text
            counts[type_name] = int(response.headers["NGSILD-Results-Count"])
        return counts
