"""RFC 7517: ``GET /jwks`` publishes the public keys that verify our access tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request

from mims.identity.keys import jwk_set
from mims.identity.storage import SqlSigningKeyStore
from mims.kit.errors import OrjsonResponse

#: RFC 7517 section 8.5.
JWK_SET_JSON = "application/jwk-set+json"

router = APIRouter(tags=["identity"])


@router.get("/jwks", summary="Signing keys, public members only (RFC 7517 JWK Set)")
async def jwks(request: Request) -> OrjsonResponse:
    keys = await SqlSigningKeyStore(request.app.state.engine).active()
    return OrjsonResponse(jwk_set(keys), media_type=JWK_SET_JSON)
