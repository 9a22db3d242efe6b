"""The identity MIM's administration API: clients and initial access tokens over HTTP.

What ``oup identity`` does on the database, for operators and tools that hold an access token
with the ``admin`` scope. The scope is checked even with ``OUP_AUTH=off``: no deployment may
leave client registration open. Errors are RFC 9457 problem details; a client's secret and an
initial access token appear once, in the response that creates them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from mims.identity.clients import (
    AUTH_METHODS,
    GRANT_TYPES,
    PUBLIC,
    Client,
    ClientExists,
    InvalidClientMetadata,
    check_redirect_uri,
    register_client,
)
from mims.identity.initial_access_tokens import (
    DEFAULT_LIFETIME,
    MAX_LIFETIME,
    MAX_USES,
    InvalidTokenTerms,
    SqlInitialAccessTokenStore,
    issue_initial_access_token,
)
from mims.identity.storage import SqlClientStore
from mims.kit.auth import require_scopes
from mims.kit.errors import status_problem
from mims.kit.problems import ProblemError, ProblemItem

router = APIRouter(
    prefix="/admin", tags=["identity administration"], dependencies=[Depends(require_scopes("admin", always=True))]
)

GrantType = Literal[GRANT_TYPES]  # type: ignore[valid-type]
AuthMethod = Literal[(*AUTH_METHODS, PUBLIC)]  # type: ignore[valid-type]


class NewClient(BaseModel):
    """A client to register; ``token_endpoint_auth_method`` ``none`` makes it public (no secret)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] = Field(default_factory=list, max_length=50)
    grant_types: list[GrantType] = Field(default=["client_credentials"], min_length=1)
    token_endpoint_auth_method: AuthMethod = "client_secret_basic"
    redirect_uris: list[str] = Field(default_factory=list, max_length=20)
    client_id: str | None = Field(None, min_length=1, max_length=128, description="default: random")


class ClientView(BaseModel):
    """A registered client, never its secret."""

    client_id: str
    name: str
    scopes: list[str]
    grant_types: list[str]
    token_endpoint_auth_method: str
    redirect_uris: list[str]
    public: bool
    created_at: datetime
    metadata: dict[str, object] = Field(description="RFC 7591 metadata given at dynamic registration")

    @classmethod
    def of(cls, client: Client) -> ClientView:
        return cls(
            client_id=client.client_id,
            name=client.name,
            scopes=list(client.scopes),
            grant_types=list(client.grant_types),
            token_endpoint_auth_method=client.token_endpoint_auth_method,
            redirect_uris=list(client.redirect_uris),
            public=client.public,
            created_at=client.created_at,
            metadata=dict(client.metadata),
        )


class CreatedClient(ClientView):
    client_secret: str | None = Field(description="shown only now; null for a public client")


class NewInitialAccessToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scopes: list[str] | None = Field(None, max_length=50, description="default: every platform scope but admin")
    expires_in: int = Field(DEFAULT_LIFETIME, ge=1, le=MAX_LIFETIME, description="seconds")
    max_uses: int | None = Field(None, ge=1, le=MAX_USES, description="default: unlimited until it expires")


class CreatedInitialAccessToken(BaseModel):
    initial_access_token: str = Field(description="shown only now; send it to /register as a bearer token")
    scopes: list[str]
    expires_at: datetime
    max_uses: int | None


def _clients(request: Request) -> SqlClientStore:
    return SqlClientStore(request.app.state.engine)


def _invalid(detail: str, errors: list[ProblemItem]) -> ProblemError:
    return status_problem(400, detail, errors=errors)


def _field_errors(body: NewClient, platform_scopes: tuple[str, ...]) -> list[ProblemItem]:
    """Every unknown scope and unacceptable redirect URI, so one answer names them all."""
    errors = [
        ProblemItem(f"/scopes/{index}", f"{scope!r} is not a platform scope; known: {list(platform_scopes)}")
        for index, scope in enumerate(body.scopes)
        if scope not in platform_scopes
    ]
    for index, uri in enumerate(body.redirect_uris):
        try:
            check_redirect_uri(uri)
        except InvalidClientMetadata as exc:
            errors.append(ProblemItem(f"/redirect_uris/{index}", str(exc)))
    return errors


@router.get("/clients", summary="The registered clients (never their secrets)")
async def list_clients(request: Request) -> list[ClientView]:
    return [ClientView.of(client) for client in await _clients(request).all()]


@router.post(
    "/clients",
    status_code=201,
    summary="Register a client; the response carries its secret, once",
    responses={400: {"description": "invalid fields"}, 409: {"description": "client_id taken"}},
)
async def create_client(body: NewClient, request: Request, response: Response) -> CreatedClient:
    platform_scopes = request.app.state.settings.scopes
    errors = _field_errors(body, platform_scopes)
    if errors:
        raise _invalid(f"{len(errors)} invalid field(s) in the client; see errors.", errors)
    try:
        registration = await register_client(
            _clients(request),
            name=body.name,
            scopes=body.scopes,
            platform_scopes=platform_scopes,
            grant_types=body.grant_types,
            token_endpoint_auth_method=body.token_endpoint_auth_method,
            redirect_uris=body.redirect_uris,
            client_id=body.client_id,
        )
    except InvalidClientMetadata as exc:
        raise _invalid(f"the client cannot be registered: {exc}", [ProblemItem("", str(exc))]) from None
    except ClientExists as exc:
        raise status_problem(409, str(exc), errors=[ProblemItem("/client_id", "already registered")]) from None
    client = registration.client
    response.headers["Location"] = f"/admin/clients/{quote(client.client_id, safe='')}"
    response.headers["Cache-Control"] = "no-store"
    return CreatedClient(**ClientView.of(client).model_dump(), client_secret=registration.client_secret)


async def _client_or_404(request: Request, client_id: str) -> Client:
    client = await _clients(request).get(client_id)
    if client is None:
        raise status_problem(404, f"no client {client_id!r} is registered")
    return client


@router.get("/clients/{client_id}", summary="One client (never its secret)", responses={404: {"description": "unknown"}})
async def get_client(client_id: str, request: Request) -> ClientView:
    return ClientView.of(await _client_or_404(request, client_id))


@router.delete(
    "/clients/{client_id}",
    status_code=204,
    summary="Delete a client: /token refuses it from now on",
    responses={404: {"description": "unknown"}},
)
async def delete_client(client_id: str, request: Request) -> Response:
    deleted = await _clients(request).delete(client_id)
    # Even when storage had no such client: another replica deleted it, this one may remember it.
    request.app.state.client_cache.forget(client_id)
    if not deleted:
        raise status_problem(404, f"no client {client_id!r} is registered")
    return Response(status_code=204)


@router.post(
    "/initial-access-tokens",
    status_code=201,
    summary="An initial access token for RFC 7591 registration at /register; shown once",
    responses={400: {"description": "invalid scopes or terms"}},
)
async def create_initial_access_token(
    body: NewInitialAccessToken, request: Request, response: Response
) -> CreatedInitialAccessToken:
    try:
        issued = await issue_initial_access_token(
            SqlInitialAccessTokenStore(request.app.state.engine),
            platform_scopes=request.app.state.settings.scopes,
            scopes=body.scopes,
            expires_in=body.expires_in,
            max_uses=body.max_uses,
        )
    except InvalidTokenTerms as exc:
        raise _invalid(str(exc), [ProblemItem("/scopes", str(exc))]) from None
    response.headers["Cache-Control"] = "no-store"
    record = issued.record
    return CreatedInitialAccessToken(
        initial_access_token=issued.token, scopes=list(record.scopes), expires_at=record.expires_at, max_uses=record.max_uses
    )

