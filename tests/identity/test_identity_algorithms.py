"""Signing algorithms: ES256 by default, Ed25519/EdDSA and RS256 on request, and rotation between them."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import timedelta

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from mims.identity import admin
from mims.identity.keys import (
    SIGNING_ALGORITHMS,
    generate_signing_key,
    rotate_signing_key,
)
from mims.identity.service import load_signing_key
from mims.identity.settings import IdentitySettings
from mims.identity.storage import SqlSigningKeyStore
from mims.kit.auth import TokenVerifier

ISSUER = "http://127.0.0.1:8001"
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def header_of(token: str) -> dict:
    encoded = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


def verifier(identity, **options) -> TokenVerifier:
    """The kit's verifier as another MIM uses it: the issuer's /jwks over HTTP."""
    return TokenVerifier(
        jwks_url=f"{ISSUER}/jwks", issuers=[ISSUER], audience="urn:oup:platform", http=identity.http, **options
    )


async def introspect(identity, registration, token: str) -> dict:
    credentials = (registration.client.client_id, registration.client_secret)
    response = await identity.http.post("/introspect", data={"token": token}, auth=credentials)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("alg", sorted(SIGNING_ALGORITHMS))
async def test_a_token_signed_with_each_algorithm_verifies_against_the_jwks(start, issue, alg):
    identity = await start(signing_alg=alg)
    registration = await identity.register(["context:read"])
    token = await issue(identity, registration, scope="context:read")

    header = header_of(token)
    assert header["alg"] == alg and header["typ"] == "at+jwt"
    [published] = (await identity.http.get("/jwks")).json()["keys"]
    assert published["kid"] == header["kid"] and published["alg"] == alg and published["use"] == "sig"
    verified = await verifier(identity).verify(token)
    assert verified.client_id == registration.client.client_id and verified.scopes == {"context:read"}
    assert (await introspect(identity, registration, token))["active"] is True


async def test_the_default_algorithm_is_es256(identity, issue):
    registration = await identity.register(["context:read"])
    assert header_of(await issue(identity, registration))["alg"] == "ES256"


async def test_rotating_from_es256_to_eddsa_keeps_old_tokens_valid_during_the_overlap(identity, issue):
    registration = await identity.register(["context:read"])
    old_token = await issue(identity, registration)
    assert header_of(old_token)["alg"] == "ES256"
    # Refetching on an unknown kid is allowed at once here, not only after the usual 10 s.
    checking = verifier(identity, jwks_min_refetch=0)
    await checking.verify(old_token)  # the verifier has fetched the JWKS with the ES256 key only

    new, retired = await rotate_signing_key(
        SqlSigningKeyStore(identity.app.state.engine), overlap=timedelta(days=1), alg="EdDSA"
    )
    await load_signing_key(identity.app)  # what the service does every KEY_RELOAD_INTERVAL
    new_token = await issue(identity, registration)

    assert header_of(new_token) == {"alg": "EdDSA", "typ": "at+jwt", "kid": new.kid}
    assert [key.kid for key in retired] == [header_of(old_token)["kid"]]
    published = {key["kid"]: key["alg"] for key in (await identity.http.get("/jwks")).json()["keys"]}
    assert published == {retired[0].kid: "ES256", new.kid: "EdDSA"}
    # The unknown kid makes the verifier refetch the JWKS; both tokens verify.
    assert (await checking.verify(new_token)).client_id == registration.client.client_id
    assert (await checking.verify(old_token)).client_id == registration.client.client_id
    assert (await introspect(identity, registration, old_token))["active"] is True
    assert (await introspect(identity, registration, new_token))["active"] is True


async def test_rotate_keys_command_switches_the_algorithm(start, tmp_path, database_url, issue):
    identity = await start()
    registration = await identity.register(["context:read"])
    arguments = ["rotate-keys", "--alg", "RS256", "--data-dir", str(tmp_path)]
    if database_url:
        arguments += ["--database-url", database_url]
    # The command runs its own event loop, as it does from a shell.
    rotated = await asyncio.to_thread(CliRunner().invoke, admin.app, arguments)
    assert rotated.exit_code == 0, rotated.output
    assert "(RS256)" in rotated.output
    await load_signing_key(identity.app)
    token = await issue(identity, registration)
    assert header_of(token)["alg"] == "RS256"
    await verifier(identity).verify(token)


def test_rotate_keys_refuses_an_unknown_algorithm(tmp_path):
    refused = CliRunner().invoke(admin.app, ["rotate-keys", "--alg", "HS256", "--data-dir", str(tmp_path)])
    assert refused.exit_code == 1
    assert "--alg must be one of" in refused.output


async def test_the_jwks_publishes_no_private_member_of_any_key_type(identity):
    store = SqlSigningKeyStore(identity.app.state.engine)
    for alg in SIGNING_ALGORITHMS:
        await store.add(generate_signing_key(alg))
    keys = (await identity.http.get("/jwks")).json()["keys"]
    assert {key["kty"] for key in keys} == {"EC", "OKP", "RSA"}
    for key in keys:
        assert not PRIVATE_MEMBERS & set(key), key
        assert {"kid", "alg", "use"} <= set(key)


def test_signing_alg_must_be_a_supported_asymmetric_algorithm():
    with pytest.raises(ValidationError, match="signing_alg must be one of"):
        IdentitySettings(signing_alg="HS256")
    with pytest.raises(ValueError, match="is not one of"):
        generate_signing_key("none")
