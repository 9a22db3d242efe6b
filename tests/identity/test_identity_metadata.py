"""RFC 8414 metadata and OpenID Connect Discovery: issuer exact, only what is implemented."""

from __future__ import annotations

import pytest

from mims.identity.settings import IdentitySettings

ISSUER = "http://127.0.0.1:8001"  # the default setting
PATHS = ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration")
SCOPES = ["context:read", "context:write", "marketplace:publish", "marketplace:consume",
          "permit:submit", "permit:review", "permit:zoning", "admin"]
#: Claims ID tokens and /userinfo may carry (OpenID Connect Discovery section 3).
CLAIMS = ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "at_hash", "amr",
          "name", "preferred_username", "roles", "email"]


@pytest.mark.parametrize("path", PATHS)
async def test_metadata_is_exactly_what_is_implemented(identity, path):
    response = await identity.http.get(path)
    assert response.status_code == 200
    assert response.json() == {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/authorize",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/jwks",
        "userinfo_endpoint": f"{ISSUER}/userinfo",
        "scopes_supported": [*SCOPES, "openid", "profile", "email"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": [
            "client_credentials",
            "authorization_code",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "claims_supported": CLAIMS,
        "ui_locales_supported": ["nl", "en"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint": f"{ISSUER}/introspect",
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint": f"{ISSUER}/revoke",
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "registration_endpoint": f"{ISSUER}/register",
    }


@pytest.mark.parametrize("path", PATHS)
async def test_issuer_and_scopes_are_the_settings_exactly(start, path):
    identity = await start(issuer="https://id.rotterdam.example/oauth", scopes="context:read, admin")
    document = (await identity.http.get(path)).json()
    assert document["issuer"] == "https://id.rotterdam.example/oauth"
    assert document["token_endpoint"] == "https://id.rotterdam.example/oauth/token"
    assert document["jwks_uri"] == "https://id.rotterdam.example/oauth/jwks"
    assert document["scopes_supported"] == ["context:read", "admin", "openid", "profile", "email"]


async def test_every_advertised_endpoint_answers(identity):
    document = (await identity.http.get(PATHS[0])).json()
    assert (await identity.http.get(document["jwks_uri"])).status_code == 200
    refused = await identity.http.post(document["token_endpoint"], data={"grant_type": "client_credentials"})
    assert refused.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    "issuer", ["http://id.rotterdam.example", "https://id.example/?tenant=1", "https://id.example/#x", "id.example"]
)
def test_issuer_must_be_https_without_query_or_fragment(issuer):
    with pytest.raises(ValueError, match="issuer"):
        IdentitySettings(issuer=issuer)


def test_scopes_must_be_scope_tokens():
    with pytest.raises(ValueError, match="scope tokens"):
        IdentitySettings(scopes=["context:read", 'bad"scope'])
