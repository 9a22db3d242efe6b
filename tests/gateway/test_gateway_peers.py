"""Federation peers: the peers file, the admin API and the circuit breaker each peer gets."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet

from gateway.circuit import CircuitBreaker
from gateway.peers import load_peers_file
from gateway.service import create_app as create_gateway
from gateway.settings import GatewaySettings
from mims.kit.auth import TokenVerifier
from tests.serving import free_port, served

ISSUER = "http://127.0.0.1:9/den-haag"
KEY = ECKey.generate_key("P-256", {"kid": "peers-1"})
FILE_PEER = {"name": "rotterdam", "base_url": "https://api.rotterdam.nl", "issuer": "https://id.rotterdam.nl"}


def mint(scope: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "gateway", "sub": "admin", "client_id": "console", "iat": now,
              "exp": now + 300, "jti": uuid.uuid4().hex, "scope": scope}
    return jwt.encode({"alg": "ES256", "kid": KEY.kid, "typ": "at+jwt"}, claims, KEY, algorithms=["ES256"])


def admin() -> dict[str, str]:
    """An admin's bearer header, minted when used (tokens minted at import expire before late tests)."""
    return {"Authorization": f"Bearer {mint('admin')}"}


def peer(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "base_url": f"https://api.{name}.nl", "issuer": f"https://id.{name}.nl", **extra}


@pytest.fixture(params=["sqlite", "postgresql"])
def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A gateway whose admin peers are stored in SQLite or PostgreSQL, with one peer from its file."""
    database_url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    (tmp_path / "peers.json").write_bytes(orjson.dumps([FILE_PEER]))
    settings = GatewaySettings(city="den-haag", data_dir=tmp_path, database_url=database_url, issuers=[ISSUER],
                               jwks_url=ISSUER + "/jwks", peers_file=tmp_path / "peers.json", rate_limit=None)
    app = create_gateway(settings)
    app.state.token_verifier = TokenVerifier(jwks=KeySet([KEY]).as_dict(), issuers=[ISSUER], audience=None)
    with served(app, free_port()) as url:
        yield url


def test_peers_are_added_replaced_listed_and_removed_by_admins(gateway: str) -> None:
    url = gateway + "/admin/peers"
    created = httpx.put(url + "/delft", json=peer("delft", timeout=1), headers=admin())
    assert created.status_code == 201, created.text
    replaced = httpx.put(url + "/delft", json=peer("delft", timeout=4), headers=admin())
    assert replaced.status_code == 200 and replaced.json()["peer"]["timeout"] == 4
    listing = httpx.get(url, headers=admin()).json()
    assert [(item["source"], item["peer"]["name"]) for item in listing] == [("admin", "delft"), ("file", "rotterdam")]
    assert httpx.get(url + "/delft", headers=admin()).json()["peer"]["timeout"] == 4
    assert httpx.delete(url + "/delft", headers=admin()).status_code == 204
    assert httpx.get(url + "/delft", headers=admin()).status_code == 404
    assert httpx.delete(url + "/delft", headers=admin()).status_code == 404


def test_peers_from_the_file_are_read_only(gateway: str) -> None:
    changed = httpx.put(gateway + "/admin/peers/rotterdam", json=peer("rotterdam"), headers=admin())
    assert changed.status_code == 409 and "peers file" in changed.json()["detail"]
    assert httpx.delete(gateway + "/admin/peers/rotterdam", headers=admin()).status_code == 409


def test_a_peer_must_be_a_valid_federation_peer_named_like_its_path(gateway: str) -> None:
    invalid = httpx.put(gateway + "/admin/peers/leiden", json={"name": "leiden", "base_url": "http://api.leiden.nl",
                                                               "timeout": 0}, headers=admin())
    assert invalid.status_code == 400
    assert {e["pointer"] for e in invalid.json()["errors"]} == {"/issuer", "/base_url", "/timeout"}
    mismatch = httpx.put(gateway + "/admin/peers/leiden", json=peer("delft"), headers=admin())
    assert mismatch.status_code == 400 and "'delft'" in mismatch.json()["detail"]
    itself = httpx.put(gateway + "/admin/peers/den-haag", json=peer("den-haag"), headers=admin())
    assert itself.status_code == 409


def test_only_admins_manage_peers(gateway: str) -> None:
    reader = {"Authorization": f"Bearer {mint('context:read')}"}
    assert httpx.get(gateway + "/admin/peers").status_code == 401
    assert httpx.get(gateway + "/admin/peers", headers=reader).status_code == 403
    assert httpx.put(gateway + "/admin/peers/delft", json=peer("delft"), headers=reader).status_code == 403


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"{", "peers file"),
        (orjson.dumps(FILE_PEER), "expected a JSON array"),
        (orjson.dumps([FILE_PEER, FILE_PEER]), "'rotterdam' appears more than once"),
        (orjson.dumps([{**FILE_PEER, "timeout": -1}]), "[0]/timeout"),
    ],
)
def test_a_broken_peers_file_stops_the_gateway_from_starting(tmp_path: Path, content: bytes, problem: str) -> None:
    (tmp_path / "peers.json").write_bytes(content)
    with pytest.raises(ValueError, match="peers.json") as raised:
        load_peers_file(tmp_path / "peers.json")
    assert problem in str(raised.value)
    settings = GatewaySettings(data_dir=tmp_path, issuers=[ISSUER], jwks_url=ISSUER + "/jwks",
                               peers_file=tmp_path / "peers.json")
    with pytest.raises(ValueError):
        create_gateway(settings)


def test_circuit_opens_after_consecutive_failures_only() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=3, cooldown=10, clock=lambda: now[0])
    breaker.failed()
    breaker.failed()
    breaker.succeeded()  # a success in between resets the count
    breaker.failed()
    breaker.failed()
    assert breaker.state == "closed" and breaker.allow()
    breaker.failed()
    assert breaker.state == "open" and not breaker.allow() and breaker.retry_in() == 10


def test_half_open_circuit_lets_one_trial_through() -> None:
    now = [0.0]
    breaker = CircuitBreaker(threshold=1, cooldown=10, clock=lambda: now[0])
    breaker.failed()
    now[0] = 9.9
    assert not breaker.allow()
    now[0] = 10.0
    assert breaker.state == "half-open"
    assert breaker.allow() and not breaker.allow()  # one trial at a time
    breaker.failed()  # the trial failed: open for another cool-down
    assert breaker.state == "open" and breaker.retry_in() == 10
    now[0] = 20.0
    assert breaker.allow()
    breaker.abandoned()  # the trial was given up: the slot is free again
    assert breaker.allow()
    breaker.succeeded()
    assert breaker.state == "closed" and breaker.allow() and breaker.allow()
