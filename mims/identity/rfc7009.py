"""RFC 7009 token revocation: ``POST /revoke``, by the client the token was issued to.

The revoked token's ``jti`` is kept until the token expires, so introspection answers
``active: false`` for it. A refresh token revokes its whole family and the access tokens
issued with it. An unknown, expired, foreign or malformed token, or one issued to
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

from mims.identity.authorization_code import UserFlow
from mims.identity.clients import AUTH_METHODS, PUBLIC
from mims.identity.revocations import RevocationStore
from mims.identity.rfc7662 import (
    AccessTokens,
    EndpointClient,
    authenticate_caller,
    check_token_parameter,
    endpoint_response,
    request_body,
)
from mims.identity.user_storage import secret_hash
from mims.kit.errors import OrjsonResponse

router = APIRouter(tags=["identity"])


class Revocation(RevocationEndpoint):
    def __init__(self, tokens: AccessTokens, revocations: Callable[[], RevocationStore], flow: UserFlow) -> None:
        super().__init__()
        self._tokens = tokens
        self._revocations = revocations
        self._flow = flow

    def authenticate_endpoint_client(self, request: OAuth2Request) -> EndpointClient:
        # Public clients too (RFC 7009 section 2.1): they present their client_id and the token.
        return authenticate_caller(self.server, request, self.ENDPOINT_NAME, (*AUTH_METHODS, PUBLIC))

    def authenticate_token(self, request: OAuth2Request, client: EndpointClient) -> dict[str, Any] | None:
        """The caller's own active token, or None: another client's token is not an error here."""
        check_token_parameter(request)
        claims = self._tokens.active_from_thread(request.form["token"])
        if claims is None:
            refresh = anyio.from_thread.run(self._flow.refresh_tokens().get, secret_hash(request.form["token"]))
            claims = None if refresh is None else {"client_id": refresh.client_id, "refresh_family": refresh.family_id}
        return claims if claims is not None and claims["client_id"] == client.get_client_id() else None

    def revoke_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        if "refresh_family" in token:
            anyio.from_thread.run(self._flow.revoke, token["refresh_family"])
            return
        expires_at = datetime.fromtimestamp(token["exp"], UTC)
        anyio.from_thread.run(self._revocations().revoke, token["jti"], token["client_id"], expires_at)


@router.post(
    "/revoke",
    summary="Token revocation (RFC 7009); the client authenticates as at /token",
    openapi_extra={"requestBody": request_body("the token to revoke")},
)
async def revoke(request: Request) -> OrjsonResponse:
    return await endpoint_response(request, Revocation.ENDPOINT_NAME, "/revoke")
