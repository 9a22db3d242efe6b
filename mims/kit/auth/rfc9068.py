"""RFC 9068 JWT profile for OAuth 2.0 access tokens: is this bearer token one we accept?

A MIM exposed without the gateway in front checks tokens itself: signed (RFC 7515) by a key
the issuer publishes (RFC 7517), typed ``at+jwt`` so an ID token or another JWT cannot be
replayed as an access token, issued by a trusted issuer for this audience, and current.

Issuers are our own (``issuers``, keys at ``jwks_url``) or foreign ones on a trust list
(:mod:`mims.kit.auth.trust`). The token's ``iss`` picks the issuer, and only that issuer's
own key set can verify it, so a key of one issuer never vouches for another. A foreign token
grants only the platform scopes its scopes map to.

Tokens that verified are remembered (a bounded LRU keyed by the exact token string): a gateway
sees the same token on every request, and an identical string has an identical signature and
payload. A remembered token is re-checked against the clock (``exp``/``nbf``) and, if foreign,
against the current trust list on every use; failures are never remembered. (A plain LRU with
that check, not a cache that expires entries itself: a hit costs a fifth as much.) A key withdrawn
from a JWKS therefore stops new tokens at once but not tokens already seen, which expire soon.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from cachetools import LRUCache
from joserfc import jws
from joserfc.errors import ClaimError, JoseError
from joserfc.jwt import JWTClaimsRegistry

from mims.kit.auth.rfc7517 import JWKSCache
from mims.kit.auth.rfc7662 import Introspector
from mims.kit.auth.trust import TrustedIssuer, TrustList, TrustSource

__all__ = ["AccessToken", "InvalidToken", "TokenVerifier"]

#: Asymmetric algorithms only: a shared HMAC secret cannot be published in a JWKS, and "none"
#: is no signature at all. Ed25519 is the fully-specified name for EdDSA (RFC 9864).
DEFAULT_ALGORITHMS = ("ES256", "Ed25519", "EdDSA", "RS256")
#: RFC 9068 section 4: "at+jwt", optionally with the "application/" prefix, case-insensitive.
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
#: RFC 9068 section 2.2: claims every access token carries.
REQUIRED_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")
#: What a foreign issuer's tokens must carry: RFC 7519 basics, as any OpenID provider issues them.
FOREIGN_REQUIRED_CLAIMS = ("iss", "exp", "aud", "sub")


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A verified access token: who (``sub``), through which client, allowed to do what.

    For a ``foreign`` token (from an issuer on the trust list) ``scopes`` are the mapped platform
    scopes, while ``claims`` are the token's own; ``sub`` is unique only together with ``issuer``.
    """

    sub: str
    client_id: str
    scopes: frozenset[str]
    claims: dict[str, Any]
    foreign: bool = False

    @property
    def issuer(self) -> str:
        return self.claims["iss"]


class InvalidToken(Exception):
    """The token is not acceptable; ``reason`` is safe to show to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class _Issuer:
    """How the tokens of one issuer are checked; ``trusted`` is None for our own issuers."""

    keys: JWKSCache
    claims: JWTClaimsRegistry
    accepted_typ: frozenset[str]
    client_id_claim: str
    trusted: TrustedIssuer | None = None


@dataclass(slots=True)
class _Verified:
    token: AccessToken
    not_before: float
    expires: float
    trusted: TrustedIssuer | None


class TokenVerifier:
    """Verifies RFC 9068 access tokens of our ``issuers`` (keys from a JWKS URL or a static set)
    and of the foreign issuers a ``trust`` source lists.

    ``cache_size`` verified tokens are remembered (0 turns that off); ``introspection`` is asked
    by :meth:`verify` with ``introspect=True``; ``clock`` (seconds since the epoch) decides
    what is current. The verifier closes its trust source and
    introspector in :meth:`aclose`.
    """

    def __init__(
        self,
        *,
        jwks_url: str | None = None,
        jwks: dict[str, Any] | None = None,
        issuers: Sequence[str] = (),
        audience: str | None,
        algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
        leeway: int = 30,
        jwks_ttl: float = 300,
        jwks_min_refetch: float = 10,
        http: httpx.AsyncClient | None = None,
        trust: TrustSource | None = None,
        introspection: Introspector | None = None,
        cache_size: int = 4096,
        clock: Callable[[], float] = time.time,
    ) -> None:
        refused = [alg for alg in algorithms if alg.lower() == "none" or alg.upper().startswith("HS")]
        if refused:
            raise ValueError(f"algorithms {refused} cannot verify access tokens from a published key")
        if not issuers and trust is None:
            raise ValueError("at least one trusted issuer is required: our own issuers or a trust list")
        if not issuers and (jwks_url is not None or jwks is not None):
            raise ValueError("a JWKS without issuers would verify nobody's tokens")
        self._algorithms = tuple(algorithms)
        self._jws = jws.JWSRegistry(algorithms=self._algorithms, strict_check_header=False)
        self._audience = audience
        self._leeway = leeway
        self._clock = clock
        self._jwks_ttl = jwks_ttl
        self._jwks_min_refetch = jwks_min_refetch
        self._http = http
        self._owns_http = False
        self._issuers = frozenset(issuers)
        self._own: _Issuer | None = None
        if issuers:
            options: dict[str, Any] = {claim: {"essential": True} for claim in REQUIRED_CLAIMS}
            options["iss"]["values"] = list(issuers)
            if audience:
                options["aud"]["values"] = [audience]
            keys = JWKSCache(url=jwks_url, jwks=jwks, ttl=jwks_ttl, min_refetch=jwks_min_refetch, http=http)
            claims = JWTClaimsRegistry(now=self._now, leeway=leeway, **options)
            self._own = _Issuer(keys, claims, ACCESS_TOKEN_TYPES, "client_id")
        self._trust = trust
        self._trust_seen: TrustList | None = None
        self._foreign: dict[str, _Issuer] = {}
        self._introspection = introspection
        # Only the event loop touches it, so it needs no lock.
        self._verified: LRUCache[str, _Verified] | None = LRUCache(cache_size) if cache_size > 0 else None

    async def verify(self, token: str, *, introspect: bool = False) -> AccessToken:
        """The verified token; raises :class:`InvalidToken` saying why not.

        With ``introspect``, the issuer is also asked whether the token is still active (not
        revoked). Raises :class:`~mims.kit.auth.rfc7517.KeySetUnavailable` when the issuer's keys
        (or the trust list) cannot be obtained and
        :class:`~mims.kit.auth.rfc7662.IntrospectionUnavailable` when introspection cannot answer:
        the server's problems rather than the token's.
        """
        access = await self._remembered(token)
        if access is None:
            access, verified = await self._verify(token)
            self._remember(token, verified)
        if introspect:
            await self._check_active(token, access)
        return access

    async def aclose(self) -> None:
        """Release the HTTP clients this verifier created, its trust source and introspector."""
        if self._own is not None:
            await self._own.keys.aclose()
        if self._owns_http and self._http is not None:
            await self._http.aclose()
        if self._trust is not None:
            await self._trust.aclose()
        if self._introspection is not None:
            await self._introspection.aclose()

    # --- the verified-token cache -------------------------------------------------------------

    async def _remembered(self, token: str) -> AccessToken | None:
        if self._verified is None:
            return None
        verified = self._verified.get(token)
        if verified is None:
            return None
        now = self._now()
        current = verified.not_before <= now < verified.expires
        if current and verified.trusted is not None:
            current = await self._still_trusted(verified.trusted)
        if not current:
            # Verified again from scratch, which says exactly why it no longer passes.
            self._verified.pop(token, None)
            return None
        return verified.token

    async def _still_trusted(self, trusted: TrustedIssuer) -> bool:
        assert self._trust is not None
        trust = await self._trust.current()
        return trust.get(trusted.issuer) is trusted and trusted.trusted_at(self._moment())

    def _now(self) -> int:
        return int(self._clock())

    def _moment(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    def _remember(self, token: str, verified: _Verified) -> None:
        if self._verified is not None:
            self._verified[token] = verified

    # --- full verification --------------------------------------------------------------------

    async def _verify(self, token: str) -> tuple[AccessToken, _Verified]:
        signed = self._parse(token)
        header = signed.headers()
        alg = header["alg"]
        if alg not in self._algorithms:
            raise InvalidToken(f"signing algorithm {alg!r} is not accepted")
        # Read before the signature is checked, only to choose whose keys must have signed it.
        claims = _claims(signed.payload)
        issuer = await self._issuer(claims.get("iss"))
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in issuer.accepted_typ:
            expected = '"at+jwt"'
            if issuer.accepted_typ != ACCESS_TOKEN_TYPES:
                expected = f"one of {sorted(issuer.accepted_typ)}"
            raise InvalidToken(f"typ header {typ!r} is not {expected}: not an access token")
        kid = header.get("kid")
        key = await issuer.keys.key(kid if isinstance(kid, str) else None, alg)
        if key is None:
            raise InvalidToken(f"no published {alg} signing key with kid {kid!r}")
        try:
            genuine = jws.validate_compact(signed, key, registry=self._jws)
        except (JoseError, ValueError) as exc:
            raise InvalidToken(f"signature cannot be checked: {exc}") from None
        if not genuine:
            raise InvalidToken("signature does not verify")
        try:
            issuer.claims.validate(claims)
        except ClaimError as exc:
            raise InvalidToken(exc.description) from None
        if issuer.trusted is not None:
            self._check_audience(claims["aud"], issuer.trusted)
        client_id, scope = claims[issuer.client_id_claim], claims.get("scope", "")
        if not isinstance(client_id, str):
            raise InvalidToken(f"Invalid claim: {issuer.client_id_claim!r}")
        if not isinstance(scope, str):
            raise InvalidToken("Invalid claim: 'scope' must be a space-separated string")
        scopes = frozenset(scope.split())
        if issuer.trusted is not None:
            scopes = issuer.trusted.platform_scopes(scopes)
        access = AccessToken(
            sub=claims["sub"], client_id=client_id, scopes=scopes, claims=claims, foreign=issuer.trusted is not None
        )
        nbf = claims.get("nbf")
        not_before = nbf - self._leeway if isinstance(nbf, int | float) else -float("inf")
        return access, _Verified(access, not_before, claims["exp"] + self._leeway, issuer.trusted)

    async def _issuer(self, iss: Any) -> _Issuer:
        if iss is None:
            raise InvalidToken("Missing claim: 'iss'")
        if not isinstance(iss, str):
            raise InvalidToken("Invalid claim: 'iss'")
        if self._own is not None and iss in self._issuers:
            return self._own
        if self._trust is not None:
            trusted = (await self._current_trust()).get(iss)
            if trusted is not None:
                if not trusted.trusted_at(self._moment()):
                    raise InvalidToken(f"trust in issuer {iss!r} ended at {trusted.valid_until}")
                return self._foreign_issuer(trusted)
        raise InvalidToken(f"Invalid claim: 'iss': issuer {iss!r} is not trusted")

    async def _current_trust(self) -> TrustList:
        assert self._trust is not None
        trust = await self._trust.current()
        if trust is not self._trust_seen:
            # Issuers no longer listed lose their key caches.
            self._foreign = {iss: checked for iss, checked in self._foreign.items() if trust.get(iss) is not None}
            self._trust_seen = trust
        return trust

    def _foreign_issuer(self, trusted: TrustedIssuer) -> _Issuer:
        known = self._foreign.get(trusted.issuer)
        if known is not None and known.trusted is trusted:
            return known
        if known is not None and known.keys.url == trusted.jwks_uri:
            keys = known.keys  # the entry changed, not where its keys are: keep the fetched set
        else:
            keys = JWKSCache(
                url=trusted.jwks_uri, ttl=self._jwks_ttl, min_refetch=self._jwks_min_refetch, http=self._shared_http()
            )
        options: dict[str, Any] = {claim: {"essential": True} for claim in FOREIGN_REQUIRED_CLAIMS}
        options["iss"]["values"] = [trusted.issuer]
        options[trusted.client_id_claim] = {"essential": True}
        checked = _Issuer(
            keys,
            JWTClaimsRegistry(now=self._now, leeway=self._leeway, **options),
            frozenset(trusted.accepted_typ),
            trusted.client_id_claim,
            trusted,
        )
        self._foreign[trusted.issuer] = checked
        return checked

    def _shared_http(self) -> httpx.AsyncClient:
        if self._http is None:
            self._http, self._owns_http = httpx.AsyncClient(timeout=5), True
        return self._http

    def _check_audience(self, aud: Any, trusted: TrustedIssuer) -> None:
        """The token must be for an audience the issuer is trusted for, and for us if we have one."""
        if not isinstance(aud, str) and not (isinstance(aud, list) and all(isinstance(a, str) for a in aud)):
            raise InvalidToken("Invalid claim: 'aud'")
        audiences = {aud} if isinstance(aud, str) else set(aud)
        allowed = audiences & set(trusted.allowed_audiences)
        if not allowed or (self._audience and self._audience not in allowed):
            raise InvalidToken(f"Invalid claim: 'aud': issuer {trusted.issuer!r} is not trusted for audience {aud!r}")

    async def _check_active(self, token: str, access: AccessToken) -> None:
        if self._introspection is None:
            raise RuntimeError("a route asks for introspection but no introspection endpoint is configured")
        if access.foreign:
            raise InvalidToken(
                f"whether a token of {access.issuer} was revoked cannot be checked here;"
                " exchange it for a token of this platform (RFC 8693)"
            )
        if not await self._introspection.active(token):
            raise InvalidToken("token revoked or inactive")

    def _parse(self, token: str) -> jws.CompactSignature:
        try:
            return jws.extract_compact(token.encode("ascii"), registry=self._jws)
        except (JoseError, ValueError) as exc:
            # UnicodeEncodeError is a ValueError too.
            raise InvalidToken(f"not a JWS compact serialization: {exc}") from None


def _claims(payload: bytes) -> dict[str, Any]:
    try:
        claims = json.loads(payload)
    except ValueError:
        raise InvalidToken("payload is not JSON") from None
    if not isinstance(claims, dict):
        raise InvalidToken("payload is not a JSON object")
    return claims
