"""RFC 8414 authorization server metadata, also served as OpenID Connect Discovery.

Only what this server implements is advertised: a client that reads the document must never
be sent down a path that fails.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from mims.identity.clients import AUTH_METHODS, GRANT_TYPES
from mims.identity.settings import IdentitySettings
from mims.kit.errors import OrjsonResponse

router = APIRouter(tags=["identity"])


def metadata(settings: IdentitySettings) -> dict[str, Any]:
    """The metadata document; ``issuer`` is the setting exactly (RFC 8414 section 3.3)."""
    base = settings.issuer.rstrip("/")
    return {
        "issuer": settings.issuer,
        "token_endpoint": f"{base}/token",
        "jwks_uri": f"{base}/jwks",
        "scopes_supported": list(settings.scopes),
        # REQUIRED by RFC 8414; empty because there is no authorization endpoint yet.
        "response_types_supported": [],
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint": f"{base}/introspect",
        "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint": f"{base}/revoke",
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
    }


@router.get("/.well-known/oauth-authorization-server", summary="Authorization server metadata (RFC 8414)")
async def oauth_authorization_server(request: Request) -> OrjsonResponse:
    return OrjsonResponse(metadata(request.app.state.settings))


@router.get("/.well-known/openid-configuration", summary="The same metadata at the OpenID Connect Discovery path")
async def openid_configuration(request: Request) -> OrjsonResponse:
    return OrjsonResponse(metadata(request.app.state.settings))
