"""What identity answers conforms to its PPIs: the metadata document, the access token claims,
both forms of the introspection response; and /.well-known/mim declares them."""

from __future__ import annotations

import pytest
from test_identity_introspection import claims_of

from ppi_schemas import validate


@pytest.mark.parametrize("path", ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"])
async def test_metadata_conforms_to_oauth_server_metadata(identity, path):
    document = (await identity.http.get(path)).json()
    assert validate(document, "oauth-server-metadata@1") == []


async def test_access_token_claims_conform_to_jwt_access_token_claims(identity, issue):
    client = await identity.register(["context:read"])
    token = await issue(identity, client, scope="context:read", resource="https://context.rotterdam.example")
    assert validate(claims_of(token), "jwt-access-token-claims@1") == []


async def test_introspection_responses_conform_to_introspection_response(identity, issue):
    client = await identity.register(["context:read"])
    token = await issue(identity, client)
    auth = (client.client.client_id, client.client_secret)
    for asked in (token, "not a token"):
        answer = (await identity.http.post("/introspect", data={"token": asked}, auth=auth)).json()
        assert validate(answer, "introspection-response@1") == [], answer


async def test_well_known_mim_declares_the_ppis(identity):
    produced = (await identity.http.get("/.well-known/mim")).json()["produces"]
    names = {entry["ppi"] for entry in produced}
    assert {"oauth-server-metadata", "jwt-access-token-claims", "introspection-response"} <= names
