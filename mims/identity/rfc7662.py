"""RFC 7662 token introspection: ``POST /introspect``, for authenticated clients only.

Only our own JWT access tokens (RFC 9068) can be active: signed by one of our non-retired keys,
typed ``at+jwt``, issued by exactly our issuer, unexpired and not revoked (RFC 7009). Anything
else, foreign tokens included, is ``{"active": false}`` and nothing more (section 2.2).
Any authenticated client may introspect any token: resource servers check tokens that other
clients present to them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any
from urllib.parse import quote

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

from mims.identity.bruteforce import guarded
from mims.identity.clients import AUTH_METHODS
from mims.identity.keys import SigningKey, SigningKeyStore, jwk_set
from mims.identity.revocations import RevocationStore
from mims.identity.rfc6749 import FormRequest, OAuthClient, TokenServer, form_fields
from mims.identity.user_storage import SqlRefreshTokenStore, secret_hash
from mims.kit.auth import InvalidToken, TokenVerifier
from mims.kit.errors import OrjsonResponse

router = APIRouter(tags=["identity"])


class EndpointClient(OAuthClient):
    """A client at introspection or revocation: it authenticates as at ``/token``, with the one
    method it was registered for."""

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.client.token_endpoint_auth_method


def authenticate_caller(
    server: TokenServer, request: OAuth2Request, endpoint: str, methods: Sequence[str] = AUTH_METHODS
) -> EndpointClient:
    """The client making ``request``, authenticated with one of ``methods``; raises
    ``invalid_client`` otherwise."""

    def query(client_id: str) -> EndpointClient | None:
        found = server.query_client(client_id)
        return EndpointClient(found.client) if found is not None else None

    client = ClientAuthentication(query)(request, list(methods), endpoint)
    request.client = client
    return client


class AccessTokens:
    """Reads our own access tokens with the kit's verifier, against our keys in storage."""

    def __init__(
        self, *, issuer: str, keys: Callable[[], SigningKeyStore], revocations: Callable[[], RevocationStore]
    ) -> None:
        self.issuer = issuer
        self._keys = keys
        self._revocations = revocations
        # The verifier of the published keys it was built for: kept while they stay the same, so
        # its verified-token cache serves repeated introspections of one token.
        self._verifier: tuple[frozenset[str], TokenVerifier] | None = None

    async def active(self, token: str) -> dict[str, Any] | None:
        """The claims of ``token`` if it is one of ours and active, else None."""
        verifier = self._verifier_for(await self._keys().active())
        try:
            claims = (await verifier.verify(token)).claims
        except InvalidToken:
            return None
        if not isinstance(claims["jti"], str) or await self._revocations().is_revoked(claims["jti"]):
            return None
        return claims

    def _verifier_for(self, keys: list[SigningKey]) -> TokenVerifier:
        published = frozenset(key.kid for key in keys)
        if self._verifier is None or self._verifier[0] != published:
            # No leeway: this server's own clock decides whether its tokens have expired.
            verifier = TokenVerifier(jwks=jwk_set(keys), issuers=[self.issuer], audience=None, leeway=0)
            self._verifier = (published, verifier)
        return self._verifier[1]

    def active_from_thread(self, token: str) -> dict[str, Any] | None:
        """:meth:`active` for authlib's endpoints, which run in a worker thread."""
        return anyio.from_thread.run(self.active, token)


def check_token_parameter(request: OAuth2Request) -> None:
    """``token`` is required; ``token_type_hint`` is only a hint and we have one kind of token,
    so it is ignored (RFC 7662 section 2.1, RFC 7009 section 2.1)."""
    if "token" not in request.form:
        raise InvalidRequestError(description="token is missing")


class Introspection(IntrospectionEndpoint):
    """Our JWT access tokens for any authenticated client; a refresh token only for the client it
    was issued to (no resource server ever holds one), active while unused, unrevoked, unexpired."""

    def __init__(self, tokens: AccessTokens, refresh_tokens: Callable[[], SqlRefreshTokenStore]) -> None:
        super().__init__()
        self._tokens = tokens
        self._refresh_tokens = refresh_tokens

    def authenticate_endpoint_client(self, request: OAuth2Request) -> EndpointClient:
        return authenticate_caller(self.server, request, self.ENDPOINT_NAME)

    def check_params(self, request: OAuth2Request, client: EndpointClient) -> None:
        check_token_parameter(request)

    def query_token(self, token_string: str, token_type_hint: str | None) -> dict[str, Any] | None:
        claims = self._tokens.active_from_thread(token_string)
        if claims is not None:
            return {**claims, "token_type": "Bearer"}
        record = anyio.from_thread.run(self._refresh_tokens().get, secret_hash(token_string))
        if record is None or record.used_at is not None or record.revoked or record.expires_at <= datetime.now(UTC):
            return None
        return {
            "scope": record.scope,
            "client_id": record.client_id,
            "sub": record.user_id,
            "iss": self._tokens.issuer,
            "exp": int(record.expires_at.timestamp()),
            "iat": int(record.issued_at.timestamp()),
        }

    def check_permission(self, token: dict[str, Any], client: EndpointClient, request: OAuth2Request) -> bool:
        """Any authenticated client for access tokens (see the module docstring)."""
        return "token_type" in token or token["client_id"] == client.get_client_id()

    def create_introspection_payload(self, token: dict[str, Any] | None) -> dict[str, Any]:
        # Expiry and revocation were checked when the token was read.
        return {"active": False} if token is None else self.introspect_token(token)

    def introspect_token(self, token: dict[str, Any]) -> dict[str, Any]:
        names = ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti", "token_type")
        return {"active": True, **{name: token[name] for name in names if name in token}}


async def endpoint_response(request: Request, name: str, path: str) -> OrjsonResponse:
    """Run authlib's ``name`` endpoint on a form request, off the event loop (argon2 is slow)."""
    server: TokenServer = request.app.state.authorization_server
    uri = request.app.state.settings.issuer.rstrip("/") + path
    headers = request.headers
    try:
        form = FormRequest(uri, headers, form_fields(headers.get("content-type", ""), await request.body()))
        # Names percent-encoded: an error_description allows only printable ASCII but '"' and '\\' (RFC 6749 5.2).
        repeated = sorted(quote(field) for field, values in form.payload.datalist.items() if len(values) > 1)
        if repeated:
            raise InvalidRequestError(description=f"parameters repeated: {repeated}")
    except OAuth2Error as error:
        return server.handle_error_response(FormRequest(uri, headers, []), error)
    return await guarded(request, form.form, partial(anyio.to_thread.run_sync, server.create_endpoint_response, name, form))


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
