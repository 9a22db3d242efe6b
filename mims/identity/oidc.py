"""OpenID Connect Core 1.0: ID tokens for the code flow (section 3.1.3.6) and ``/userinfo`` (5.3).

The scopes ``openid``, ``profile`` and ``email`` ask about the person, not for access to the
platform, so they sit next to the platform scopes rather than among them. ID tokens are signed
with the current signing key in its own ``alg`` (the one the discovery document advertises).
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import anyio.from_thread
from authlib.oidc.core import OpenIDCode
from fastapi import APIRouter, Depends, Request
from joserfc import jwt

from mims.identity.authorization_code import UserFlow
from mims.identity.clients import parse_scopes
from mims.identity.user_storage import SqlUserStore
from mims.identity.users import User
from mims.kit.auth import AccessToken, require_scopes
from mims.kit.errors import OrjsonResponse
from mims.kit.problems import ProblemError

#: The claims each OpenID Connect scope releases (section 5.4); ``roles`` is the platform's own.
SCOPE_CLAIMS = {"openid": ("sub",), "profile": ("name", "preferred_username", "roles"), "email": ("email",)}
CLAIMS_SUPPORTED = (
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "amr",
    *(claim for claims in SCOPE_CLAIMS.values() for claim in claims if claim != "sub"),
)

router = APIRouter(tags=["identity"])


def user_claims(user: User, scope: str) -> dict[str, Any]:
    """What ``scope`` releases about ``user``; absent values are left out, not sent as null."""
    scopes = set(parse_scopes(scope))
    values = {
        "sub": user.user_id,
        "name": user.name,
        "preferred_username": user.username,
        "roles": list(user.roles),
        "email": user.email,
    }
    released = {claim for name in scopes for claim in SCOPE_CLAIMS.get(name, ())}
    return {claim: value for claim, value in values.items() if claim in released and value is not None}


def half_hash(value: str, alg: str) -> str:
    """``at_hash``: the left half of the hash the JWS ``alg`` uses (SHA-512 for Ed25519)."""
    digest = {"RS256": hashlib.sha256, "ES256": hashlib.sha256}.get(alg, hashlib.sha512)(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


class IDToken(OpenIDCode):
    """authlib's OpenID Connect extension of the code grant, signing with our key."""

    def __init__(self, flow: UserFlow) -> None:
        super().__init__(require_nonce=False)
        self._flow = flow

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return anyio.from_thread.run(self._flow.codes().nonce_used, request.payload.client_id, nonce)

    def generate_user_info(self, user: User, scope: str) -> dict[str, Any]:
        return user_claims(user, scope)

    def encode_id_token(self, token: dict[str, Any], request: Any) -> str:
        key = self._flow.signing_key()
        alg = key.alg
        code = request.authorization_code
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self._flow.settings.issuer,
            "aud": request.client.get_client_id(),
            "iat": now,
            "exp": now + self._flow.settings.id_token_lifetime,
            **self.get_authorization_code_claims(code),
            "at_hash": half_hash(token["access_token"], alg),
            **user_claims(request.user, token["scope"]),
        }
        return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[alg])


async def _userinfo(request: Request, token: AccessToken) -> OrjsonResponse:
    user = await SqlUserStore(request.app.state.engine).get(token.sub)
    if user is None or token.claims.get("client_id") == token.sub:
        raise ProblemError(
            401,
            "Unauthorized",
            "the access token was not issued for a user",
            headers={"WWW-Authenticate": 'Bearer realm="oup", error="invalid_token"'},
        )
    return OrjsonResponse(user_claims(user, " ".join(token.scopes)), headers={"Cache-Control": "no-store"})


@router.get("/userinfo", summary="The signed-in user's claims (OpenID Connect Core 5.3); needs scope openid")
async def userinfo(
    request: Request, token: AccessToken = Depends(require_scopes("openid", always=True))
) -> OrjsonResponse:
    return await _userinfo(request, token)


@router.post("/userinfo", summary="The same, by POST (OpenID Connect Core 5.3.1)")
async def userinfo_post(
    request: Request, token: AccessToken = Depends(require_scopes("openid", always=True))
) -> OrjsonResponse:
    return await _userinfo(request, token)
