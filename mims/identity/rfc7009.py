"""RFC 7009 token revocation: ``POST /revoke``, by the client the token was issued to.

The revoked token's ``jti`` is kept until the token expires, so introspection answers
``active: false`` for it. An unknown, expired, foreign or malformed token, or one issued to
another client, is answered 200 all the same (section 2.2): the response tells the caller
nothing about tokens that are not its own.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio.from_thread
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc7009 import RevocationEndpoint
from fastapi import APIRouter, Request

from mims.identity.revocations import RevocationStore
from mims.identity.rfc7662 import (
    AccessTokens,
    EndpointClient,
    authenticate_caller,
    check_token_parameter,
    endpoint_response,
    request_body,
)
from mims.kit.errors import OrjsonResponse

router = APIRouter(tags=["identity"])


class Revocation(RevocationEndpoint):
    def __init__(self, tokens: AccessTokens, revocations: Callable[[], RevocationStore]) -> None:
        super().__init__()
        self._tokens = tokens
        self._revocations = revocations

    def authenticate_endpoint_client(self, request: OAuth2Request) -> EndpointClient:
        return authenticate_caller(self.server, request, self.ENDPOINT_NAME)

    def authenticate_token(self, request: OAuth2Request, client: EndpointClient) -> dict[str, Any] | None:
        """The caller's own active token, or None: another client's token is not an error here."""
        check_token_parameter(request)
        claims = self._tokens.active_from_thread(request.form["token"])
        return claims if claims is not None and claims["client_id"] == client.get_client_id() else None

    def revoke_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        expires_at = datetime.fromtimestamp(token["exp"], UTC)
        anyio.from_thread.run(self._revocations().revoke, token["jti"], token["client_id"], expires_at)


@router.post(
    "/revoke",
    summary="Token revocation (RFC 7009); the client authenticates as at /token",
    openapi_extra={"requestBody": request_body("the token to revoke")},
)
async def revoke(request: Request) -> OrjsonResponse:
    return await endpoint_response(request, Revocation.ENDPOINT_NAME, "/revoke")
