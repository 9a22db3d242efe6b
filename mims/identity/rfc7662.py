"""RFC 7662 token introspection: ``POST /introspect``, for authenticated clients only.

Only our own JWT access tokens (RFC 9068) can be active: signed by one of our non-retired keys,
typed ``at+jwt``, issued by exactly our issuer, unexpired and not revoked (RFC 7009). Anything
else, foreign tokens included, is ``{"active": false}`` and nothing more (section 2.2).
Any authenticated client may introspect any token: resource servers check tokens that other
clients present to them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio.from_thread
import anyio.to_thread
from authlib.oauth2.rfc6749 import (
    ClientAuthentication,
    InvalidRequestError,
    OAuth2Error,
    OAuth2Request,
)
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from fastapi import APIRouter, Request

from mims.identity.clients import AUTH_METHODS
from mims.identity.keys import SigningKeyStore, jwk_set
from mims.identity.revocations import RevocationStore
from mims.identity.rfc6749 import FormRequest, OAuthClient, TokenServer, form_fields
from mims.kit.auth import InvalidToken, TokenVerifier
from mims.kit.errors import OrjsonResponse

router = APIRouter(tags=["identity"])


class EndpointClient(OAuthClient):
    """A client at introspection or revocation: it authenticates as at ``/token``, with the one
    method it was registered for."""

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.client.token_endpoint_auth_method


def authenticate_caller(server: TokenServer, request: OAuth2Request, endpoint: str) -> EndpointClient:
    """The authenticated client making ``request``; raises ``invalid_client`` otherwise."""

    def query(client_id: str) -> EndpointClient | None:
        found = server.query_client(client_id)
        return EndpointClient(found.client) if found is not None else None

    client = ClientAuthentication(query)(request, list(AUTH_METHODS), endpoint)
    request.client = client
    return client


class AccessTokens:
    """Reads our own access tokens with the kit's verifier, against our keys in storage."""

    def __init__(
        self, *, issuer: str, keys: Callable[[], SigningKeyStore], revocations: Callable[[], RevocationStore]
    ) -> None:
        self._issuer = issuer
        self._keys = keys
        self._revocations = revocations

    async def active(self, token: str) -> dict[str, Any] | None:
        """The claims of ``token`` if it is one of ours and active, else None."""
        keys = await self._keys().active()
        # No leeway: this server's own clock decides whether its tokens have expired.
        verifier = TokenVerifier(jwks=jwk_set(keys), issuers=[self._issuer], audience=None, leeway=0)
        try:
            claims = (await verifier.verify(token)).claims
        except InvalidToken:
            return None
        if not isinstance(claims["jti"], str) or await self._revocations().is_revoked(claims["jti"]):
            return None
        return claims

    def active_from_thread(self, token: str) -> dict[str, Any] | None:
        """:meth:`active` for authlib's endpoints, which run in a worker thread."""
        return anyio.from_thread.run(self.active, token)


def check_token_parameter(request: OAuth2Request) -> None:
    """``token`` is required; ``token_type_hint`` is only a hint and we have one kind of token,
    so it is ignored (RFC 7662 section 2.1, RFC 7009 section 2.1)."""
    if "token" not in request.form:
        raise InvalidRequestError(description="token is missing")


class Introspection(IntrospectionEndpoint):
    def __init__(self, tokens: AccessTokens) -> None:
        super().__init__()
        self._tokens = tokens

    def authenticate_endpoint_client(self, request: OAuth2Request) -> EndpointClient:
        return authenticate_caller(self.server, request, self.ENDPOINT_NAME)

    def check_params(self, request: OAuth2Request, client: EndpointClient) -> None:
        check_token_parameter(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> dict[str, Any] | None:
        return self._tokens.active_from_thread(token_string)

    def check_permission(self, token: dict[str, Any], client: EndpointClient, request: OAuth2Request) -> bool:
        return True  # any authenticated client (see the module docstring)

    def create_introspection_payload(self, token: dict[str, Any] | None) -> dict[str, Any]:
        # Expiry and revocation were checked when the token was read.
        return {"active": False} if token is None else self.introspect_token(token)

    def introspect_token(self, token: dict[str, Any]) -> dict[str, Any]:
        names = ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti")
        return {"active": True, **{name: token[name] for name in names if name in token}, "token_type": "Bearer"}


async def endpoint_response(request: Request, name: str, path: str) -> OrjsonResponse:
    """Run authlib's ``name`` endpoint on a form request, off the event loop (argon2 is slow)."""
    server: TokenServer = request.app.state.authorization_server
    uri = request.app.state.settings.issuer.rstrip("/") + path
    headers = request.headers
    try:
        form = FormRequest(uri, headers, form_fields(headers.get("content-type", ""), await request.body()))
        repeated = sorted(field for field, values in form.payload.datalist.items() if len(values) > 1)
        if repeated:
            raise InvalidRequestError(description=f"parameters repeated: {repeated}")
    except OAuth2Error as error:
        return server.handle_error_response(FormRequest(uri, headers, []), error)
    return await anyio.to_thread.run_sync(server.create_endpoint_response, name, form)


def request_body(description: str) -> dict[str, Any]:
    properties = {
        "token": {"type": "string", "description": description},
        "token_type_hint": {"type": "string"},
        "client_id": {"type": "string"},
        "client_secret": {"type": "string"},
    }
    schema = {"type": "object", "required": ["token"], "properties": properties}
    return {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}


@router.post(
    "/introspect",
    summary="Token introspection (RFC 7662); the caller authenticates as a client",
    openapi_extra={"requestBody": request_body("the token to introspect")},
)
async def introspect(request: Request) -> OrjsonResponse:
    return await endpoint_response(request, Introspection.ENDPOINT_NAME, "/introspect")
