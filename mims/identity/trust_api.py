"""The trust list over HTTP: managed by administrators, published for everyone.

``/admin/trust-list`` needs an access token with the ``admin`` scope, even with ``OUP_AUTH=off``
(no deployment may let anyone decide whom a city trusts). ``GET /trust-list`` publishes the
merged list as a PPI ``trust-list`` document: whom a city trusts is not secret (the entries hold
only public URLs and scope names), and publishing it lets the city's other services and the
gateway follow the same list (kit setting ``trust_list_url``) and partners see what their
citizens' tokens are good for here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response

import ppi_schemas
from mims.identity.trust_storage import MAX_ISSUER_LENGTH, IdentityTrust, SqlTrustedIssuerStore
from mims.kit.auth import TokenVerifier, TrustListFile, require_scopes
from mims.kit.auth.trust import PPI, TrustListUnavailable, TrustSource, check_trust_list
from mims.kit.errors import OrjsonResponse, status_problem, unsupported_media_type
from mims.kit.ppi import PPI_VALIDATION, is_json_media_type, parse_json
from mims.kit.problems import ProblemError, ProblemItem
from mims.kit.settings import MimSettings

router = APIRouter(tags=["trust between cities"])
admin = APIRouter(prefix="/admin/trust-list", dependencies=[Depends(require_scopes("admin", always=True))])

#: Seconds others may cache the published list.
PUBLISHED_MAX_AGE = 60
_ENTRY = "A TrustedIssuer object of the PPI trust-list (version 1.1.0 or any earlier 1.x)"


def install(app: FastAPI, settings: MimSettings) -> None:
    """``app.state.trust`` (file plus stored entries) and ``app.state.foreign_tokens``, the kit
    verifier for subject tokens of trusted foreign issuers (token exchange)."""
    file = TrustListFile(settings.trust_list_file) if settings.trust_list_file is not None else None
    app.state.trust = IdentityTrust(file=file, store=lambda: SqlTrustedIssuerStore(app.state.engine))
    app.state.foreign_tokens = foreign_verifier(app.state.trust)


def foreign_verifier(trust: TrustSource, http: httpx.AsyncClient | None = None) -> TokenVerifier:
    """Tokens of the trusted foreign issuers only (ours are read from storage, with revocations);
    the trust list's ``allowed_audiences`` decide whom they may be for."""
    return TokenVerifier(audience=None, trust=trust, http=http)


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[None]:
    """Closes the foreign issuers' key set clients at shutdown."""
    try:
        yield
    finally:
        await app.state.foreign_tokens.aclose()


@router.get(
    "/trust-list",
    summary="The foreign issuers this city trusts (PPI trust-list)",
    response_description="A trust-list document",
)
async def published(request: Request) -> OrjsonResponse:
    trust: IdentityTrust = request.app.state.trust
    document = await _document(trust)
    return OrjsonResponse(document, headers={"Cache-Control": f"public, max-age={PUBLISHED_MAX_AGE}"})


@admin.get("", summary="The trust list, with the issuers that only the trust list file can change")
async def trust_list(request: Request) -> OrjsonResponse:
    trust: IdentityTrust = request.app.state.trust
    document = await _document(trust)
    read_only = await trust.read_only()
    listed = [entry["issuer"] for entry in document["issuers"]]
    body = {"trust_list": document, "read_only": [issuer for issuer in listed if issuer in read_only]}
    return OrjsonResponse(body, headers={"Cache-Control": "no-store"})


@admin.put(
    "/issuers",
    summary="Trust an issuer, or change how it is trusted (a PPI trust-list TrustedIssuer)",
    status_code=200,
    responses={201: {"description": "The issuer is now trusted"}, 200: {"description": "The entry was replaced"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object", "description": _ENTRY}}},
        }
    },
)
async def put_issuer(request: Request) -> OrjsonResponse:
    content_type = request.headers.get("content-type")
    if not is_json_media_type(content_type):
        raise unsupported_media_type(content_type)
    entry = parse_json(await request.body())
    _check_entry(entry)
    if entry["issuer"] == request.app.state.settings.issuer:
        raise status_problem(
            400, "this is the issuer itself, not a foreign one", errors=[ProblemItem("/issuer", "our own issuer")]
        )
    trust: IdentityTrust = request.app.state.trust
    if entry["issuer"] in await trust.read_only():
        raise _from_file(entry["issuer"])
    created = await SqlTrustedIssuerStore(request.app.state.engine).put(entry)
    trust.changed()
    return OrjsonResponse(entry, status_code=201 if created else 200, headers={"Cache-Control": "no-store"})


@admin.delete("/issuers", status_code=204, summary="Stop trusting an issuer")
async def delete_issuer(
    request: Request, issuer: str = Query(..., min_length=1, description="The issuer identifier, exactly")
) -> Response:
    trust: IdentityTrust = request.app.state.trust
    if issuer in await trust.read_only():
        raise _from_file(issuer)
    if not _storable(issuer) or not await SqlTrustedIssuerStore(request.app.state.engine).delete(issuer):
        raise status_problem(404, f"issuer {issuer} is not on the trust list")
    trust.changed()
    return Response(status_code=204)


router.include_router(admin)


def _check_entry(entry: Any) -> None:
    """400 naming every way ``entry`` is not a PPI TrustedIssuer, pointers relative to the body."""
    found = check_trust_list({"issuers": [entry]})
    problems = [(pointer.removeprefix("/issuers/0"), message) for pointer, message in found]
    if not problems and not _storable(entry["issuer"]):
        problems = [("/issuer", f"control characters, or longer than {MAX_ISSUER_LENGTH} characters")]
    if problems:
        ref = ppi_schemas.get(PPI).ref
        raise ProblemError(
            400,
            f"Request body is not a TrustedIssuer of PPI {ref}",
            f"{len(problems)} problem(s); each error points at the offending member.",
            type=PPI_VALIDATION,
            errors=[ProblemItem(pointer, message) for pointer, message in problems],
            extensions={"ppi": ref},
        )


async def _document(trust: IdentityTrust) -> dict[str, Any]:
    try:
        return (await trust.current()).document()
    except TrustListUnavailable as exc:
        raise status_problem(503, str(exc)) from None


def _storable(issuer: str) -> bool:
    """Whether the table can hold ``issuer`` (PostgreSQL text cannot hold NUL)."""
    return len(issuer) <= MAX_ISSUER_LENGTH and not any(ord(char) < 0x20 for char in issuer)


def _from_file(issuer: str) -> ProblemError:
    return status_problem(409, f"issuer {issuer} is listed in the trust list file, which only its operator can change")
