"""`oup up --region`: what each city's folder gets before its services start."""

from __future__ import annotations

import io
from pathlib import Path

import orjson
from rich.console import Console

import ppi_schemas
from mims.cli.region import cities, prepare


def test_every_city_knows_the_other_two_as_peers_and_trusted_issuers(tmp_path: Path) -> None:
    region = cities("127.0.0.1", tmp_path)
    environments = prepare(region, Console(file=io.StringIO()))
    assert sorted(environments) == ["den-haag", "rotterdam", "zuid-holland"]
    rotterdam = tmp_path / "rotterdam"
    peers = orjson.loads((rotterdam / "peers.json").read_bytes())
    assert [p["name"] for p in peers] == ["den-haag", "zuid-holland"]
    assert all(ppi_schemas.is_valid(p, "federation-peer@1.0.0") for p in peers)
    assert peers[0]["base_url"] == "http://127.0.0.1:8100" and peers[1]["issuer"] == "http://127.0.0.1:8201"
    assert {p["auth"]["client_id"] for p in peers} == {"gateway-rotterdam"}
    trust = orjson.loads((rotterdam / "trust-list.json").read_bytes())
    assert ppi_schemas.is_valid(trust, "trust-list@1")
    assert [i["issuer"] for i in trust["issuers"]] == ["http://127.0.0.1:8101", "http://127.0.0.1:8201"]
    secrets_file = rotterdam / "peer-secrets.json"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    env = environments["rotterdam"]
    assert env["OUP_GATEWAY_CITY"] == "rotterdam"
    assert orjson.loads(env["OUP_GATEWAY_PEER_CLIENT_SECRETS"]) == orjson.loads(secrets_file.read_bytes())
    assert sorted(orjson.loads(secrets_file.read_bytes())) == ["den-haag", "zuid-holland"]
    # A second start keeps the secrets registered the first time (the peers hold only their hashes).
    again = prepare(region, Console(file=io.StringIO()))
    assert again["rotterdam"]["OUP_GATEWAY_PEER_CLIENT_SECRETS"] == env["OUP_GATEWAY_PEER_CLIENT_SECRETS"]
