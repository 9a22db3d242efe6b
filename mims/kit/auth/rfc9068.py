"""RFC 9068 JWT profile for OAuth 2.0 access tokens: is this bearer token one we accept?

A MIM exposed without the gateway in front checks tokens itself: signed (RFC 7515) by a key
the issuer publishes (RFC 7517), typed ``at+jwt`` so an ID token or another JWT cannot be
replayed as an access token, issued by a trusted issuer for this audience, and current.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jws
from joserfc.errors import ClaimError, JoseError
from joserfc.jwt import JWTClaimsRegistry

from mims.kit.auth.rfc7517 import JWKSCache

__all__ = ["AccessToken", "InvalidToken", "TokenVerifier"]

#: Asymmetric algorithms only: a shared HMAC secret cannot be published in a JWKS, and "none"
#: is no signature at all. Ed25519 is the fully-specified name for EdDSA (RFC 9864).
DEFAULT_ALGORITHMS = ("ES256", "Ed25519", "EdDSA", "RS256")
#: RFC 9068 section 4: "at+jwt", optionally with the "application/" prefix, case-insensitive.
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
#: RFC 9068 section 2.2: claims every access token carries.
REQUIRED_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A verified access token: who (``sub``), through which client, allowed to do what."""

    sub: str
    client_id: str
    scopes: frozenset[str]
    claims: dict[str, Any]


class InvalidToken(Exception):
    """The token is not acceptable; ``reason`` is safe to show to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TokenVerifier:
    """Verifies RFC 9068 access tokens against an issuer's keys (a JWKS URL or a static set)."""

    def __init__(
        self,
        *,
        jwks_url: str | None = None,
        jwks: dict[str, Any] | None = None,
        issuers: Sequence[str],
        audience: str | None,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        leeway: int = 30,
        jwks_ttl: float = 300,
        jwks_min_refetch: float = 10,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        refused = [alg for alg in algorithms if alg.lower() == "none" or alg.upper().startswith("HS")]
        if refused:
            raise ValueError(f"algorithms {refused} cannot verify access tokens from a published key")
        if not issuers:
            raise ValueError("at least one trusted issuer is required")
        self._algorithms = tuple(algorithms)
        self._jws = jws.JWSRegistry(algorithms=self._algorithms, strict_check_header=False)
        self._keys = JWKSCache(url=jwks_url, jwks=jwks, ttl=jwks_ttl, min_refetch=jwks_min_refetch, http=http)
        options: dict[str, Any] = {claim: {"essential": True} for claim in REQUIRED_CLAIMS}
        options["iss"]["values"] = list(issuers)
        if audience:
            options["aud"]["values"] = [audience]
        self._claims = JWTClaimsRegistry(leeway=leeway, **options)

    async def verify(self, token: str) -> AccessToken:
        """The verified token; raises :class:`InvalidToken` saying why not.

        Raises :class:`~mims.kit.auth.rfc7517.KeySetUnavailable` when the issuer's keys
        cannot be obtained, which is the server's problem rather than the token's.
        """
        signed = self._parse(token)
        header = signed.headers()
        alg = header["alg"]
        if alg not in self._algorithms:
            raise InvalidToken(f"signing algorithm {alg!r} is not accepted")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
            raise InvalidToken(f'typ header {typ!r} is not "at+jwt": not an access token')
        kid = header.get("kid")
        key = await self._keys.key(kid if isinstance(kid, str) else None, alg)
        if key is None:
            raise InvalidToken(f"no published {alg} signing key with kid {kid!r}")
        try:
            genuine = jws.validate_compact(signed, key, registry=self._jws)
        except (JoseError, ValueError) as exc:
            raise InvalidToken(f"signature cannot be checked: {exc}") from None
        if not genuine:
            raise InvalidToken("signature does not verify")
        return self._access_token(signed.payload)

    async def aclose(self) -> None:
        """Release the JWKS HTTP client, if this verifier created it."""
        await self._keys.aclose()

    def _parse(self, token: str) -> jws.CompactSignature:
        try:
            return jws.extract_compact(token.encode("ascii"), registry=self._jws)
        except (JoseError, ValueError) as exc:
            # UnicodeEncodeError is a ValueError too.
            raise InvalidToken(f"not a JWS compact serialization: {exc}") from None

    def _access_token(self, payload: bytes) -> AccessToken:
        try:
            claims = json.loads(payload)
        except ValueError:
            raise InvalidToken("payload is not JSON") from None
        if not isinstance(claims, dict):
            raise InvalidToken("payload is not a JSON object")
        try:
            self._claims.validate(claims)
        except ClaimError as exc:
            raise InvalidToken(exc.description) from None
        client_id, scope = claims["client_id"], claims.get("scope", "")
        if not isinstance(client_id, str):
            raise InvalidToken("Invalid claim: 'client_id'")
        if not isinstance(scope, str):
            raise InvalidToken("Invalid claim: 'scope' must be a space-separated string")
        return AccessToken(sub=claims["sub"], client_id=client_id, scopes=frozenset(scope.split()), claims=claims)
