"""RFC 8693 token exchange, end to end between two cities.

"The Hague" is a second identity app with its own issuer URL and database; "Rotterdam" is the
identity app under test, whose trust list names The Hague. A Hague token, presented by a
Rotterdam client registered for token exchange, becomes a Rotterdam token that Rotterdam's
services (the kit verifier) accept, with only the mapped scopes.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

import ppi_schemas
from mims.identity.clients import TOKEN_EXCHANGE, Registration, register_client
from mims.identity.storage import SqlClientStore
from mims.identity.trust_api import foreign_verifier
from mims.kit.auth import TokenVerifier

ROTTERDAM = "http://127.0.0.1:8001"
DEN_HAAG = "http://127.0.0.2:8001"
PERMITS = "https://permits.rotterdam.example"
ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token"


@dataclass
class Cities:
    rotterdam: Any
    den_haag: Any
    citizen_token: str
    exchanger: Registration

    async def exchange(self, subject_token: str | None = None, *, client: Registration | None = None, **extra: str):
        client = client or self.exchanger
        data = {
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": subject_token or self.citizen_token,
            "subject_token_type": ACCESS_TOKEN,
            **extra,
        }
        auth = (client.client.client_id, client.client_secret)
        return await self.rotterdam.http.post("/token", data=data, auth=auth)


async def register(identity, scopes: list[str], grants: tuple[str, ...] = (TOKEN_EXCHANGE,)) -> Registration:
    return await register_client(
        SqlClientStore(identity.app.state.engine),
        name="test client",
        scopes=scopes,
        platform_scopes=identity.app.state.settings.scopes,
        grant_types=grants,
    )


DEN_HAAG_ENTRY = {
    "issuer": DEN_HAAG,
    "jwks_uri": f"{DEN_HAAG}/jwks",
    "name": "Gemeente Den Haag",
    "scope_map": {"permit:submit": ["permit:submit"], "context:read": ["context:read"]},
    "allowed_audiences": [ROTTERDAM],
}


@pytest.fixture
async def cities(start, tmp_path: Path, issue) -> Cities:
    """Rotterdam trusting The Hague through its trust list file."""
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({"issuers": [DEN_HAAG_ENTRY]}))
    return await two_cities(start, tmp_path, issue, trust_list_file=trust)


@pytest.fixture
async def strangers(start, tmp_path: Path, issue) -> Cities:
    """Rotterdam trusting nobody yet."""
    return await two_cities(start, tmp_path, issue)


async def two_cities(start, tmp_path: Path, issue, **rotterdam_settings: Any) -> Cities:
    den_haag = await start(issuer=DEN_HAAG, data_dir=tmp_path / "den-haag", database_url=None)
    rotterdam = await start(**rotterdam_settings)
    # Rotterdam reaches The Hague's JWKS through The Hague's app (no network in tests).
    to_den_haag = httpx.AsyncClient(transport=httpx.ASGITransport(app=den_haag.app), base_url=DEN_HAAG)
    rotterdam.app.state.foreign_tokens = foreign_verifier(rotterdam.app.state.trust, http=to_den_haag)
    citizen = await den_haag.register(["permit:submit", "context:read", "context:write"])
    citizen_token = await issue(den_haag, citizen, resource=ROTTERDAM)
    exchanger = await register(rotterdam, ["permit:submit", "context:read", "context:write", "permit:review"])
    return Cities(rotterdam, den_haag, citizen_token, exchanger)


def rotterdam_verifier(cities: Cities, audience: str | None = PERMITS) -> TokenVerifier:
    """What a Rotterdam service runs: trusts only Rotterdam's own issuer."""
    http = cities.rotterdam.http
    return TokenVerifier(jwks_url=f"{ROTTERDAM}/jwks", issuers=[ROTTERDAM], audience=audience, http=http)


async def test_a_den_haag_citizen_token_becomes_a_rotterdam_token(cities: Cities) -> None:
    request = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": cities.citizen_token,
        "subject_token_type": ACCESS_TOKEN,
        "requested_token_type": ACCESS_TOKEN,
        "resource": PERMITS,
    }
    assert ppi_schemas.validate(request, "token-exchange-request@1.0.0") == []
    auth = (cities.exchanger.client.client_id, cities.exchanger.client_secret)

    response = await cities.rotterdam.http.post("/token", data=request, auth=auth)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["issued_token_type"] == ACCESS_TOKEN
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    # context:write was in the Hague token, but the trust list does not map it.
    assert body["scope"] == "permit:submit context:read"
    assert "refresh_token" not in body
    assert response.headers["cache-control"] == "no-store"

    token = await rotterdam_verifier(cities).verify(body["access_token"])
    hague_sub = jwt.decode(cities.citizen_token, cities.den_haag.app.state.signing_key).claims["sub"]
    assert token.foreign is False
    assert token.scopes == frozenset({"permit:submit", "context:read"})
    assert token.sub == f"{DEN_HAAG}#{hague_sub}"
    assert token.client_id == cities.exchanger.client.client_id
    assert token.claims["original_iss"] == DEN_HAAG
    assert token.claims["act"] == {"sub": token.client_id, "client_id": token.client_id}
    assert token.claims["aud"] == PERMITS
    assert ppi_schemas.validate(token.claims, "jwt-access-token-claims@1.0.0") == []


async def test_trust_given_and_withdrawn_by_an_admin_applies_at_once(strangers: Cities, issue) -> None:
    cities = strangers
    untrusted = await cities.exchange()
    admin = await cities.rotterdam.register(["admin"])
    headers = {"Authorization": f"Bearer {await issue(cities.rotterdam, admin)}"}
    put = await cities.rotterdam.http.put("/admin/trust-list/issuers", json=DEN_HAAG_ENTRY, headers=headers)
    trusted = await cities.exchange()
    params = {"issuer": DEN_HAAG}
    deleted = await cities.rotterdam.http.delete("/admin/trust-list/issuers", params=params, headers=headers)
    withdrawn = await cities.exchange()

    assert "is not trusted" in untrusted.json()["error_description"]
    assert (put.status_code, trusted.status_code, deleted.status_code) == (201, 200, 204)
    assert trusted.json()["scope"] == "permit:submit context:read"
    # The same subject token verified a moment ago: the verifier's cache does not outlive the trust.
    assert withdrawn.status_code == 400
    assert "is not trusted" in withdrawn.json()["error_description"]


async def test_scope_narrows_and_audience_names_the_target(cities: Cities) -> None:
    response = await cities.exchange(scope="permit:submit permit:review", audience="vergunningen")

    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "permit:submit"
    token = await rotterdam_verifier(cities, audience="vergunningen").verify(response.json()["access_token"])
    assert token.scopes == frozenset({"permit:submit"})


async def test_an_actor_token_is_named_in_act(cities: Cities, issue) -> None:
    portal = await cities.rotterdam.register(["context:read"])
    actor_token = await issue(cities.rotterdam, portal)

    response = await cities.exchange(actor_token=actor_token, actor_token_type=ACCESS_TOKEN)

    assert response.status_code == 200, response.text
    claims = (await rotterdam_verifier(cities, audience=None).verify(response.json()["access_token"])).claims
    assert claims["act"] == {"sub": portal.client.client_id, "client_id": cities.exchanger.client.client_id}


async def test_an_exchanged_token_exchanged_again_keeps_its_origin_and_delegation_chain(cities: Cities) -> None:
    first = (await cities.exchange()).json()["access_token"]

    response = await cities.exchange(first, scope="context:read")

    assert response.status_code == 200, response.text
    claims = (await rotterdam_verifier(cities, audience=None).verify(response.json()["access_token"])).claims
    first_claims = (await rotterdam_verifier(cities, audience=None).verify(first)).claims
    client_id = cities.exchanger.client.client_id
    assert (claims["sub"], claims["original_iss"]) == (first_claims["sub"], DEN_HAAG)
    assert claims["act"] == {"sub": client_id, "client_id": client_id, "act": first_claims["act"]}


async def test_our_own_active_tokens_can_be_exchanged_and_revoked_ones_cannot(cities: Cities, issue) -> None:
    own = await cities.rotterdam.register(["context:read"])
    own_token = await issue(cities.rotterdam, own)

    exchanged = await cities.exchange(own_token)
    assert exchanged.status_code == 200, exchanged.text
    claims = (await rotterdam_verifier(cities, audience=None).verify(exchanged.json()["access_token"])).claims
    assert (claims["sub"], claims["scope"], claims["original_iss"]) == (own.client.client_id, "context:read", ROTTERDAM)

    auth = (own.client.client_id, own.client_secret)
    assert (await cities.rotterdam.http.post("/revoke", data={"token": own_token}, auth=auth)).status_code == 200
    refused = await cities.exchange(own_token)
    assert refused.status_code == 400
    assert refused.json() == {
        "error": "invalid_grant",
        "error_description": "subject_token is not an active access token of this issuer",
    }


def hague_token(cities: Cities, **claims: Any) -> str:
    """A token signed with The Hague's real key, with claims of our choosing."""
    key = cities.den_haag.app.state.signing_key
    now = int(time.time())
    body = {
        "iss": DEN_HAAG,
        "aud": ROTTERDAM,
        "sub": "citizen-1",
        "client_id": "mijn-den-haag",
        "iat": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "scope": "permit:submit",
        **claims,
    }
    return jwt.encode({"alg": key.alg, "kid": key.kid, "typ": "at+jwt"}, body, key, algorithms=[key.alg])


async def test_a_hague_token_signed_properly_is_accepted(cities: Cities) -> None:
    """The control for the refusals below: the hand-made tokens are otherwise valid."""
    response = await cities.exchange(hague_token(cities))

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int(time.time()) - 600, "iat": int(time.time()) - 900}, "subject_token: The token is expired"),
        ({"aud": PERMITS}, "not trusted for audience"),
        ({"may_act": {"sub": "someone-else"}}, "the subject token's may_act does not name this actor"),
        ({"scope": "context:write"}, "the subject token grants no platform scope this client may be given"),
    ],
)
async def test_subject_tokens_that_do_not_qualify_are_refused(cities: Cities, claims: dict, reason: str) -> None:
    response = await cities.exchange(hague_token(cities, **claims))

    assert response.status_code == 400
    assert response.json()["error"] in ("invalid_grant", "invalid_scope")
    assert reason in response.json()["error_description"]


async def test_a_token_of_an_issuer_not_on_the_trust_list_is_refused(cities: Cities) -> None:
    key = ECKey.generate_key("P-256", {"kid": "ut-1"})
    now = int(time.time())
    claims = {"iss": "https://id.utrecht.example", "aud": ROTTERDAM, "sub": "x", "client_id": "c", "exp": now + 60}
    token = jwt.encode({"alg": "ES256", "kid": "ut-1", "typ": "at+jwt"}, {**claims, "jti": "j"}, key)

    response = await cities.exchange(token)

    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "subject_token: Invalid claim: 'iss': issuer 'https://id.utrecht.example' is not trusted",
    }


async def test_a_client_without_the_grant_is_unauthorized(cities: Cities) -> None:
    plain = await register(cities.rotterdam, ["permit:submit"], grants=("client_credentials",))

    response = await cities.exchange(client=plain)

    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


@pytest.mark.parametrize(
    ("extra", "description"),
    [
        ({"requested_token_type": "urn:ietf:params:oauth:token-type:refresh_token"}, "requested_token_type"),
        ({"subject_token_type": "urn:ietf:params:oauth:token-type:id_token"}, "subject_token_type"),
        ({"subject_token_type": "urn:example:unknown"}, "subject_token_type"),
        ({"actor_token": "abc"}, "actor_token"),
    ],
)
async def test_unsupported_or_malformed_requests_are_invalid(cities: Cities, extra: dict, description: str) -> None:
    response = await cities.exchange(**extra)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert description in response.json()["error_description"]


async def test_a_missing_subject_token_is_an_invalid_request(cities: Cities) -> None:
    auth = (cities.exchanger.client.client_id, cities.exchanger.client_secret)
    response = await cities.rotterdam.http.post(
        "/token", data={"grant_type": TOKEN_EXCHANGE, "subject_token_type": ACCESS_TOKEN}, auth=auth
    )

    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    assert "subject_token" in response.json()["error_description"]


async def test_a_resource_with_a_fragment_is_an_invalid_target(cities: Cities) -> None:
    response = await cities.exchange(resource="https://permits.rotterdam.example/#frag")

    assert (response.status_code, response.json()["error"]) == (400, "invalid_target")


async def test_the_grant_is_advertised(cities: Cities) -> None:
    metadata = (await cities.rotterdam.http.get("/.well-known/oauth-authorization-server")).json()

    assert TOKEN_EXCHANGE in metadata["grant_types_supported"]
