"""RFC 6749 token endpoint: authlib's authorization server behind FastAPI.

authlib is synchronous, so each token request runs in a worker thread (where the argon2
secret check belongs anyway, off the event loop) and reaches the async client store through
the loop. Errors are RFC 6749 section 5.2 JSON, not problem details: that is what OAuth
clients parse.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote

import anyio.from_thread
import anyio.to_thread
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
    grants,
)
from fastapi import APIRouter, Request

from mims.identity.clients import (
    AUTH_METHODS,
    GRANT_TYPES,
    SCOPE_TOKEN,
    Client,
    ClientStore,
    parse_scopes,
    spend_decoy_verification,
)
from mims.identity.bruteforce import guarded
from mims.identity.client_cache import ClientCache
from mims.identity.rfc8707 import requested_resources, resource_indicators
from mims.identity.rfc9068 import AccessTokenGenerator
from mims.identity.users import OIDC_SCOPES
from mims.kit.auth.rfc6750 import REALM
from mims.kit.errors import OrjsonResponse

FORM = "application/x-www-form-urlencoded"
#: RFC 8707 section 2 and RFC 8693 section 2.1 allow several; every other parameter at most once
#: (RFC 6749 section 3.2).
REPEATABLE = frozenset({"resource", "audience"})

router = APIRouter(tags=["identity"])


class OAuthClient(ClientMixin):
    """A registered client as authlib sees it."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> str | None:
        """RFC 6749 section 3.1.2.3: a request may leave out the redirect URI only when the
        client registered exactly one."""
        uris = self.client.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """RFC 6749 section 3.3: scopes the client may not have are dropped; no scope asked means
        all it may have; None (invalid_scope) when nothing asked for is allowed. A client that
        signs users in may also ask for the OpenID Connect scopes."""
        if not scope:
            return " ".join(self.client.scopes)
        offered = set(self.client.scopes) | (set(OIDC_SCOPES) if "authorization_code" in self.client.grant_types else set())
        allowed = [s for s in parse_scopes(scope) if s in offered]
        return " ".join(allowed) if allowed else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact string matching (RFC 9700 section 2.1)."""
        return redirect_uri in self.client.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client.check_secret(client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method == self.client.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.client.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.client.grant_types


class FormPayload(OAuth2Payload):
    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for name, value in fields:
            self._datalist[name].append(value)
        self._data = {name: values[0] for name, values in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class FormRequest(OAuth2Request):
    """A token request: its form fields and headers, at the endpoint URL clients know."""

    def __init__(self, uri: str, headers: Mapping[str, str], fields: list[tuple[str, str]]) -> None:
        super().__init__("POST", uri, headers=headers)
        self.payload = FormPayload(fields)
        self.resources: tuple[str, ...] = ()

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data

    @property
    def args(self) -> dict[str, str]:
        return {}


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)

    def validate_token_request(self) -> None:
        super().validate_token_request()
        self.request.resources = resource_indicators(self.request.payload.datalist.get("resource", []))

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        reset = requested_resources.set(self.request.resources)
        try:
            return super().create_token_response()
        finally:
            requested_resources.reset(reset)

    def generate_token(self, user: Any = None, scope: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """OpenID Connect scopes are about a signed-in person: a client acting for itself gets none."""
        asked = parse_scopes(scope)
        platform = [name for name in asked if name not in OIDC_SCOPES]
        if asked and not platform:
            raise InvalidScopeError(description="the OpenID Connect scopes need a signed-in user (authorization_code)")
        return super().generate_token(user=user, scope=" ".join(platform) or None, **kwargs)


class TokenServer(AuthorizationServer):
    """The authorization server; ``clients`` gives the client store of the running app, whose
    records ``cache`` keeps for a while."""

    def __init__(
        self, *, clients: Callable[[], ClientStore], cache: ClientCache, generator: AccessTokenGenerator
    ) -> None:
        super().__init__()
        self._clients = clients
        self._cache = cache
        self.register_grant(ClientCredentialsGrant)
        self.register_token_generator("default", generator)

    def query_client(self, client_id: str) -> OAuthClient | None:
        client = self._cache.get(client_id, self._load_client)
        if client is None:
            spend_decoy_verification()
            return None
        return OAuthClient(client)

    def _load_client(self, client_id: str) -> Client | None:
        return anyio.from_thread.run(self._clients().get, client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """JWT access tokens are self-contained: nothing to store until revocation exists."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """authlib's hook for framework signals; nothing listens here."""

    def create_oauth2_request(self, request: FormRequest) -> FormRequest:
        return request

    def validate_requested_scope(self, scope: str | None) -> None:
        """Only the syntax: scopes beyond the client's are dropped, not refused (section 3.3)."""
        if scope is not None and not all(SCOPE_TOKEN.fullmatch(token) for token in scope.split(" ") if token):
            raise InvalidScopeError(description="scope must be space-separated RFC 6749 scope tokens")

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> OrjsonResponse:
        return OrjsonResponse(body, status_code=status, headers=dict(headers))

    def handle_error_response(self, request: OAuth2Request, error: OAuth2Error) -> OrjsonResponse:
        status, body, headers = error()
        if isinstance(error, InvalidClientError):
            # Always 401 with a challenge, whichever way the client tried to authenticate, and
            # the same words whatever failed, so responses do not tell which client ids exist.
            status = 401
            body = {"error": error.error, "error_description": "client authentication failed"}
            headers = [(name, value) for name, value in headers if name.lower() != "www-authenticate"]
            headers.append(("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"'))
        return self.handle_response(status, body, headers)


def _check_parameters(request: FormRequest) -> None:
    repeated = [name for name, values in request.payload.datalist.items() if len(values) > 1 and name not in REPEATABLE]
    if repeated:
        # Names percent-encoded: an error_description allows only printable ASCII but '"' and '\\' (RFC 6749 5.2).
        raise InvalidRequestError(description=f"parameters repeated: {sorted(quote(name) for name in repeated)}")
    if "grant_type" not in request.payload.data:
        raise InvalidRequestError(description="grant_type is missing")


def form_fields(content_type: str, body: bytes) -> list[tuple[str, str]]:
    """The fields of a form-encoded request body (the token, introspection and revocation endpoints)."""
    if content_type.split(";", 1)[0].strip().lower() != FORM:
        raise InvalidRequestError(description=f"the request body must be {FORM}")
    try:
        fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise InvalidRequestError(description="the request body is not UTF-8") from None
    # Parameters sent without a value are treated as omitted (RFC 6749 section 3.1).
    return [(name, value) for name, value in fields if value]


_TOKEN_REQUEST = {
    "required": True,
    "content": {
        FORM: {
            "schema": {
                "type": "object",
                "required": ["grant_type"],
                "properties": {
                    "grant_type": {"type": "string", "enum": list(GRANT_TYPES)},
                    "scope": {"type": "string"},
                    "resource": {"type": "array", "items": {"type": "string", "format": "uri"}},
                    "client_id": {"type": "string"},
                    "client_secret": {"type": "string"},
                    "code": {"type": "string", "description": "authorization_code: the code from /authorize"},
                    "redirect_uri": {"type": "string", "description": "authorization_code: as sent to /authorize"},
                    "code_verifier": {"type": "string", "description": "authorization_code: the PKCE verifier (RFC 7636)"},
                    "refresh_token": {"type": "string", "description": "refresh_token: the refresh token to use"},
                    "subject_token": {"type": "string", "description": "token exchange (RFC 8693): whom it is for"},
                    "subject_token_type": {"type": "string", "description": "token exchange: its token type URN"},
                    "actor_token": {"type": "string", "description": "token exchange: the acting party's token"},
                    "actor_token_type": {"type": "string", "description": "token exchange: its token type URN"},
                    "requested_token_type": {"type": "string", "description": "token exchange: an access token"},
                    "audience": {"type": "array", "items": {"type": "string"}, "description": "token exchange"},
                },
            }
        }
    },
}


@router.post(
    "/token",
    summary="Token endpoint (RFC 6749 section 3.2): client_credentials, authorization_code, refresh_token,"
    " token exchange (RFC 8693)",
    openapi_extra={"requestBody": _TOKEN_REQUEST},
)
async def token(request: Request) -> OrjsonResponse:
    server: TokenServer = request.app.state.authorization_server
    # The URL clients know the endpoint by, whatever proxy the request came through.
    endpoint = request.app.state.settings.issuer.rstrip("/") + "/token"
    headers = request.headers  # case-insensitive, as authlib expects
    try:
        form = FormRequest(endpoint, headers, form_fields(headers.get("content-type", ""), await request.body()))
        _check_parameters(form)
    except OAuth2Error as error:
        return server.handle_error_response(FormRequest(endpoint, headers, []), error)
    # authlib blocks (and argon2 is meant to be slow): off the event loop.
    return await guarded(request, form.form, partial(anyio.to_thread.run_sync, server.create_token_response, form))
