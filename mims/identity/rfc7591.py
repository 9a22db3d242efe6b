"""RFC 7591 dynamic client registration: ``POST /register`` behind an initial access token.

A vendor's component or a developer's app registers itself with the client metadata of section
2; the initial access token (section 3, sent as an RFC 6750 bearer token) decides who may and
bounds the scopes. Dynamically registered clients may use client_credentials, authorization_code
and refresh_token; token exchange (RFC 8693) lets a client act for users of other issuers, so
only an administrator grants it (``/admin/clients``, ``oup identity add-client``). Errors are the
JSON of section 3.2.2, as OAuth clients expect, not problem details.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

import orjson
from authlib.common.security import is_secure_transport
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from mims.identity.clients import Client as RegisteredClient
from mims.identity.clients import (
    ClientExists,
    InvalidClientMetadata,
    check_redirect_uri,
    parse_scopes,
    register_client,
)
from mims.identity.initial_access_tokens import SqlInitialAccessTokenStore
from mims.identity.storage import SqlClientStore
from mims.identity.user_storage import secret_hash
from mims.kit.auth import bearer_token
from mims.kit.auth.rfc6750 import REALM
from mims.kit.errors import OrjsonResponse

router = APIRouter(tags=["identity"])

#: Grant types a client may register for itself; the rest only an administrator grants.
DYNAMIC_GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")
#: Response types (section 2.1), each with the grant type it belongs to.
RESPONSE_TYPES = {"code": "authorization_code"}
#: Section 2 members stored as given and returned with the registration.
DESCRIPTIVE = ("contacts", "client_uri", "logo_uri", "policy_uri", "tos_uri", "software_id", "software_version")
_URIS = ("client_uri", "logo_uri", "policy_uri", "tos_uri")
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
#: Outside what an error_description may hold (RFC 6749 section 5.2): percent-encoded.
_NOT_IN_DESCRIPTION = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")

Text = Annotated[str, StringConstraints(max_length=2048)]


class ClientMetadata(BaseModel):
    """RFC 7591 section 2 client metadata; members not listed here are ignored (section 2)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    redirect_uris: list[Text] = Field(default_factory=list, max_length=20)
    token_endpoint_auth_method: Text = "client_secret_basic"
    grant_types: list[Text] | None = Field(None, max_length=10, description="default: from response_types, else authorization_code")
    response_types: list[Text] | None = Field(None, max_length=10, description="'code' exactly when grant_types has authorization_code")
    client_name: Text | None = None
    scope: Text | None = Field(None, description="space-separated; default: every scope the initial access token allows")
    contacts: list[Text] = Field(default_factory=list, max_length=10)
    client_uri: Text | None = None
    logo_uri: Text | None = None
    policy_uri: Text | None = None
    tos_uri: Text | None = None
    software_id: Text | None = None
    software_version: Text | None = None


class RegistrationError(Exception):
    """A refused registration, answered as section 3.2.2 JSON."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description

    def response(self) -> OrjsonResponse:
        description = _NOT_IN_DESCRIPTION.sub(lambda match: quote(match.group()), self.description)
        body = {"error": self.error, "error_description": description}
        return OrjsonResponse(body, status_code=400, headers=_NO_STORE)


def grant_and_response_types(metadata: ClientMetadata) -> tuple[list[str], list[str]]:
    """Section 2.1: both lists, defaulted and checked to agree (``code`` <-> authorization_code)."""
    response_types = list(dict.fromkeys(metadata.response_types)) if metadata.response_types is not None else None
    if metadata.grant_types is not None:
        grant_types = list(dict.fromkeys(metadata.grant_types))
    elif response_types is not None:
        grant_types = [RESPONSE_TYPES[kind] for kind in response_types if kind in RESPONSE_TYPES] or ["client_credentials"]
    else:
        grant_types = ["authorization_code"]
    refused = [grant for grant in grant_types if grant not in DYNAMIC_GRANT_TYPES]
    if refused or not grant_types:
        raise RegistrationError(
            "invalid_client_metadata",
            f"grant_types: {refused or '[]'} cannot be registered here; allowed: {list(DYNAMIC_GRANT_TYPES)}"
            " (token exchange only through an administrator)",
        )
    if response_types is None:
        response_types = [kind for kind, grant in RESPONSE_TYPES.items() if grant in grant_types]
    unknown = [kind for kind in response_types if kind not in RESPONSE_TYPES]
    if unknown:
        raise RegistrationError("invalid_client_metadata", f"response_types: {unknown} not supported; only 'code'")
    for kind, grant in RESPONSE_TYPES.items():
        if (kind in response_types) != (grant in grant_types):
            raise RegistrationError(
                "invalid_client_metadata", f"response_types '{kind}' and grant_types '{grant}' go together: both or neither"
            )
    return grant_types, response_types


def descriptive_metadata(metadata: ClientMetadata) -> dict[str, Any]:
    """The descriptive members given, checked: web pages over https, contacts not empty."""
    for name in _URIS:
        uri = getattr(metadata, name)
        if uri is not None and (not is_secure_transport(uri) or urlsplit(uri).scheme not in ("http", "https")):
            raise RegistrationError(
                "invalid_client_metadata", f"{name}: {uri!r} must be an https URL (http only on a loopback host)"
            )
    if any(not contact.strip() for contact in metadata.contacts):
        raise RegistrationError("invalid_client_metadata", "contacts: every contact must be a non-empty string")
    given = metadata.model_dump(include=set(DESCRIPTIVE), exclude_none=True)
    return {name: value for name, value in given.items() if value != []}


def registration_response(client: RegisteredClient, secret: str | None) -> dict[str, Any]:
    """Section 3.2.1: the client's credentials and every metadata member as stored."""
    body: dict[str, Any] = {"client_id": client.client_id}
    if secret is not None:
        # 0: the secret does not expire.
        body |= {"client_secret": secret, "client_secret_expires_at": 0}
    return body | {
        "client_id_issued_at": int(client.created_at.timestamp()),
        "client_name": client.name,
        "redirect_uris": list(client.redirect_uris),
        "grant_types": list(client.grant_types),
        "response_types": [kind for kind, grant in RESPONSE_TYPES.items() if grant in client.grant_types],
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "scope": " ".join(client.scopes),
        **client.metadata,
    }


def _unauthorized(description: str, *, error: str | None) -> OrjsonResponse:
    challenge = f'Bearer realm="{REALM}"' + (f', error="{error}"' if error else "")
    body = {"error": error or "invalid_token", "error_description": description}
    return OrjsonResponse(body, status_code=401, headers={"WWW-Authenticate": challenge, **_NO_STORE})


def _metadata(content_type: str, body: bytes) -> ClientMetadata:
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise RegistrationError("invalid_client_metadata", "the request body must be application/json")
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise RegistrationError("invalid_client_metadata", f"the request body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise RegistrationError("invalid_client_metadata", "the request body must be a JSON object")
    try:
        metadata = ClientMetadata.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors(include_url=False)
        )
        raise RegistrationError("invalid_client_metadata", problems) from None
    # Redirect URIs are checked on their own, as invalid_redirect_uri.
    if _control_characters(metadata.model_dump(exclude={"redirect_uris"})):
        raise RegistrationError("invalid_client_metadata", "client metadata must not contain control characters")
    return metadata


def _control_characters(value: Any) -> bool:
    if isinstance(value, str):
        return not value.isprintable()
    if isinstance(value, list):
        return any(_control_characters(item) for item in value)
    if isinstance(value, dict):
        return any(_control_characters(item) for item in value.values())
    return False


async def _register(request: Request, allowed_scopes: tuple[str, ...]) -> OrjsonResponse:
    metadata = _metadata(request.headers.get("content-type", ""), await request.body())
    grant_types, _ = grant_and_response_types(metadata)
    descriptive = descriptive_metadata(metadata)
    scopes = parse_scopes(metadata.scope) if metadata.scope is not None else list(allowed_scopes)
    beyond = [scope for scope in scopes if scope not in allowed_scopes]
    if beyond:
        raise RegistrationError(
            "invalid_client_metadata", f"scope: {beyond} not allowed by this initial access token ({list(allowed_scopes)})"
        )
    for uri in metadata.redirect_uris:
        try:
            check_redirect_uri(uri)
        except InvalidClientMetadata as exc:
            raise RegistrationError("invalid_redirect_uri", str(exc)) from None
    try:
        registration = await register_client(
            SqlClientStore(request.app.state.engine),
            name=metadata.client_name if metadata.client_name is not None else "dynamically registered client",
            scopes=scopes,
            platform_scopes=request.app.state.settings.scopes,
            grant_types=grant_types,
            token_endpoint_auth_method=metadata.token_endpoint_auth_method,
            redirect_uris=metadata.redirect_uris,
            metadata=descriptive,
        )
    except (InvalidClientMetadata, ClientExists) as exc:
        raise RegistrationError("invalid_client_metadata", str(exc)) from None
    body = registration_response(registration.client, registration.client_secret)
    return OrjsonResponse(body, status_code=201, headers=_NO_STORE)


_REQUEST_BODY = {
    "required": True,
    "content": {"application/json": {"schema": ClientMetadata.model_json_schema()}},
}


@router.post(
    "/register",
    status_code=201,
    summary="Dynamic client registration (RFC 7591), with an initial access token as bearer token",
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={
        201: {"description": "the client: client_id, client_secret (not for public clients) and its metadata"},
        400: {"description": "invalid_client_metadata or invalid_redirect_uri (RFC 7591 section 3.2.2)"},
        401: {"description": "no initial access token, or one that is unknown, expired or used up"},
    },
)
async def register(request: Request) -> OrjsonResponse:
    token = bearer_token(request)
    if token is None:
        return _unauthorized("registration needs an initial access token: Authorization: Bearer <token>", error=None)
    tokens = SqlInitialAccessTokenStore(request.app.state.engine)
    granted = await tokens.spend(secret_hash(token), datetime.now(UTC))
    if granted is None:
        return _unauthorized("the initial access token is unknown, expired or used up", error="invalid_token")
    try:
        return await _register(request, granted.scopes)
    except RegistrationError as exc:
        await tokens.refund(granted.token_hash)
        return exc.response()

