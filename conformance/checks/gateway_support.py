"""What the gateway checks share: the protected route they probe, the tokens they need (a real
one, one lacking the route's scope, an expired one), access tokens the suite forges itself, and
how an RFC 6750 refusal is read.

Options (``--option key=value``) a gateway run understands:

- ``protected_path`` (``/ngsi-ld/v1/entities``) and ``entity_type`` (``ConformanceProbe``): the
  route probed with ``GET <path>?type=<entity_type>``, which must need ``context:read``;
- ``wrong_scope_token``, or ``wrong_scope_client_id`` and ``wrong_scope_client_secret`` (token
  endpoint: ``token_url``, else the run's ``--token-url``): a valid token without ``context:read``;
- ``expired_token``: a token of the trusted issuer whose ``exp`` has passed;
- ``issuer``: the trusted issuer, when the gateway does not route its RFC 8414 metadata;
- ``down_peer``: a region peer known to be down, which the region check then requires reported.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey

from conformance.session import Session, TokenUnavailable

READ_SCOPE = "context:read"
WRITE_SCOPE = "context:write"
UNTRUSTED_ISSUER = "https://untrusted.conformance.invalid"
METADATA_PATHS = ("/.well-known/oauth-authorization-server", "/identity/.well-known/oauth-authorization-server")
"""Where a gateway may route its identity provider's RFC 8414 metadata (OUP routes both)."""

_SUITE_KEY = ECKey.generate_key("P-256", {"kid": f"conformance-{uuid.uuid4().hex[:8]}"})
"""The suite's own signing key, made afresh per process: no gateway can have been told to trust it."""
_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


def protected_path(session: Session) -> str:
    return session.target.options.get("protected_path", "/ngsi-ld/v1/entities")


def entity_type(session: Session) -> str:
    return session.target.options.get("entity_type", "ConformanceProbe")


async def get_protected(session: Session, headers: dict[str, str] | None = None) -> httpx.Response:
    """``GET`` the protected route (an NGSI-LD query by type, which needs ``context:read``)."""
    return await session.http.get(protected_path(session), params={"type": entity_type(session)},
                                  headers=headers or {})


def bearer_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def token_or_fail(session: Session, scope: str, why: str) -> str:
    """A token for ``scope`` from the run's credentials; a failure saying why the check needs it."""
    try:
        return await session.token(scope)
    except TokenUnavailable as error:
        session.fail(f"{why} needs an access token with {scope}: {error}")


async def wrong_scope_token(session: Session) -> str:
    """A valid token lacking ``context:read``: given as ``wrong_scope_token``, or issued to the
    ``wrong_scope_client_id`` by client credentials; not run, saying what to give, when neither is."""
    token = await session.party_token("wrong_scope")
    if token is None:
        session.needs("needs a token without context:read: give --option wrong_scope_token=..., or "
                      "--option wrong_scope_client_id=... and wrong_scope_client_secret=... (with --token-url)")
    if READ_SCOPE in str(claims_of(token).get("scope", "")).split():
        session.needs(f"the wrong-scope token carries {READ_SCOPE}; give one without it as "
                      "--option wrong_scope_token=...")
    return token


def claims_of(token: str) -> dict[str, Any]:
    """The payload of a compact JWS, unverified (the suite only reads its own or the operator's
    tokens); empty when ``token`` is not a JWT."""
    try:
        payload = token.split(".")[1]
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return decoded if isinstance(decoded, dict) else {}


async def trusted_issuer(session: Session) -> str | None:
    """The issuer the gateway trusts: ``--option issuer``, else the ``issuer`` of the RFC 8414
    metadata the gateway routes, else the ``iss`` of the run's own token; None when unknown."""
    if session.target.options.get("issuer"):
        return session.target.options["issuer"]
    for path in METADATA_PATHS:
        answer = await session.http.get(path)
        if answer.status_code == 200:
            try:
                issuer = answer.json().get("issuer")
            except (ValueError, AttributeError):
                continue
            if isinstance(issuer, str) and issuer:
                return issuer
    try:
        return claims_of(await session.token(READ_SCOPE)).get("iss") or None
    except TokenUnavailable:
        return None


async def template_claims(session: Session) -> dict[str, Any]:
    """RFC 9068 claims as the trusted issuer would send them: those of a real token of the run
    when one can be had (so a forged token differs from a genuine one in its signature only),
    else a plausible set; fresh ``iat``, ``exp`` and ``jti`` either way."""
    now = int(time.time())
    try:
        claims = claims_of(await session.token(READ_SCOPE))
    except TokenUnavailable:
        claims = {}
    if not claims:
        claims = {"aud": session.target.url, "sub": "conformance-suite", "client_id": "conformance-suite",
                  "scope": f"{READ_SCOPE} {WRITE_SCOPE}"}
    return {**claims, "iat": now, "nbf": now, "exp": now + 300, "jti": uuid.uuid4().hex}


def forged(claims: dict[str, Any]) -> str:
    """An RFC 9068 access token (``typ`` ``at+jwt``, ES256) signed with the suite's own key."""
    header = {"alg": "ES256", "typ": "at+jwt", "kid": _SUITE_KEY.kid}
    return jwt.encode(header, claims, _SUITE_KEY, algorithms=["ES256"])


def unsigned(claims: dict[str, Any]) -> str:
    """The same token with ``alg`` ``none`` and no signature (RFC 7519 §6, an unsecured JWT)."""
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'at+jwt'})}.{part(claims)}."


def challenge(response: httpx.Response) -> tuple[str, dict[str, str]] | None:
    """The scheme and parameters of the response's ``WWW-Authenticate``, or None without one."""
    header = response.headers.get("www-authenticate")
    if not header:
        return None
    scheme, _, rest = header.strip().partition(" ")
    return scheme, {m[1].lower(): (m[2] if m[2] is not None else m[3]) for m in _PARAM.finditer(rest)}


def refused(session: Session, response: httpx.Response, status: int, what: str, error: str | None) -> None:
    """``response`` refuses with ``status`` and an RFC 6750 Bearer challenge (a MUST, §3); an
    ``error`` code other than the one expected is noted, since the RFC makes it a SHOULD."""
    session.expect(response.status_code == status, f"{what}: expected {status}, got {response.status_code} "
                   f"{response.text[:200]!r}")
    found = challenge(response)
    session.expect(found is not None, f"{what}: the {status} has no WWW-Authenticate header (RFC 6750 §3 requires "
                   "a Bearer challenge)")
    assert found is not None
    scheme, params = found
    session.expect(scheme.lower() == "bearer", f"{what}: WWW-Authenticate challenges {scheme!r}, not Bearer")
    if error is None and "error" in params:
        session.note(f"{what}: the challenge gives error={params['error']!r} though no credentials were sent "
                     "(RFC 6750 §3.1 says it SHOULD NOT)")
    elif error is not None and params.get("error") != error:
        session.note(f"{what}: the challenge's error is {params.get('error')!r}, RFC 6750 §3.1 suggests {error!r}")
