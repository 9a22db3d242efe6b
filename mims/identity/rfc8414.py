"""RFC 8414 authorization server metadata, also served as OpenID Connect Discovery.

Only what this server implements is advertised: a client that reads the document must never
be sent down a path that fails.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from mims.identity.clients import AUTH_METHODS, PUBLIC, TOKEN_EXCHANGE
from mims.identity.oidc import CLAIMS_SUPPORTED
from mims.identity.settings import IdentitySettings
from mims.identity.users import OIDC_SCOPES
from mims.kit.errors import OrjsonResponse
from mims.kit.languages import LANGUAGES

router = APIRouter(tags=["identity"])


def metadata(settings: IdentitySettings, signing_alg: str) -> dict[str, Any]:
    """The metadata document; ``issuer`` is the setting exactly (RFC 8414 section 3.3);
    ``signing_alg`` is the current key's, which signs ID tokens."""
    base = settings.issuer.rstrip("/")
    return {
        "issuer": settings.issuer,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "jwks_uri": f"{base}/jwks",
        "userinfo_endpoint": f"{base}/userinfo",
        "scopes_supported": [*settings.scopes, *OIDC_SCOPES],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token", TOKEN_EXCHANGE],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [signing_alg],
        "claims_supported": list(CLAIMS_SUPPORTED),
        "ui_locales_supported": list(LANGUAGES),
        "token_endpoint_auth_methods_supported": [*AUTH_METHODS, PUBLIC],
        "introspection_endpoint": f"{base}/introspect",
        "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint": f"{base}/revoke",
        "revocation_endpoint_auth_methods_supported": [*AUTH_METHODS, PUBLIC],
        "registration_endpoint": f"{base}/register",
    }


@router.get("/.well-known/oauth-authorization-server", summary="Authorization server metadata (RFC 8414)")
async def oauth_authorization_server(request: Request) -> OrjsonResponse:
    return OrjsonResponse(metadata(request.app.state.settings, request.app.state.signing_key.alg))


@router.get("/.well-known/openid-configuration", summary="The same metadata at the OpenID Connect Discovery path")
async def openid_configuration(request: Request) -> OrjsonResponse:
    return OrjsonResponse(metadata(request.app.state.settings, request.app.state.signing_key.alg))
