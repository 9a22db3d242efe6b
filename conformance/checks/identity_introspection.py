"""Identity checks of introspection (RFC 7662) and revocation (RFC 7009): only an authenticated
caller may introspect, a real token is active with its claims, anything else is ``active: false``,
and a revoked token stops being active; plus the OUP PPIs of tokens and introspection answers."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx

from conformance.checks.common import body, conforms
from conformance.checks.identity_client import (access_token, credentials, endpoint, jwt_parts, metadata,
                                                post_as_client, unique)
from conformance.registry import check
from conformance.session import Session

INTROSPECTION_METHODS = "introspection_endpoint_auth_methods_supported"
REVOCATION_METHODS = "revocation_endpoint_auth_methods_supported"


async def introspect(session: Session, document: dict[str, Any], token: str) -> tuple[httpx.Response, dict[str, Any]]:
    """The provider's answer about ``token``, asked as the operator's client: 200 and a JSON object."""
    url = endpoint(session, document, "introspection_endpoint", "introspection")
    answer = await post_as_client(session, document, url, {"token": token}, INTROSPECTION_METHODS)
    session.expect(answer.status_code == 200, f"introspection by an authenticated client answered "
                   f"{answer.status_code}: {answer.text[:200]!r}")
    verdict = body(answer)
    session.expect(isinstance(verdict, dict) and isinstance(verdict.get("active"), bool),
                   f"the introspection answer has no boolean active: {answer.text[:200]!r}")
    return answer, verdict


@check("identity.introspection.caller_auth", "Introspection without caller authentication is refused (400 or 401)",
       mim="identity", source="RFC 7662 §2.1, §4")
async def caller_auth(session: Session) -> None:
    document = await metadata(session)
    url = endpoint(session, document, "introspection_endpoint", "introspection")
    token = await access_token(session, document)
    answer = await session.http.post(url, data={"token": token})
    session.expect(answer.status_code in (400, 401), f"introspection with no caller authentication answered "
                   f"{answer.status_code}, expected 400 or 401: {answer.text[:200]!r}")
    if answer.status_code == 400:
        session.note("a caller without authentication is refused with 400 (RFC 6749 §5.2 prefers 401 invalid_client)")


@check("identity.introspection.garbage", "A token the provider never issued is active: false", mim="identity",
       source="RFC 7662 §2.2")
async def garbage(session: Session) -> None:
    document = await metadata(session)
    credentials(session)
    _, verdict = await introspect(session, document, unique("garbage"))
    session.expect(verdict["active"] is False, f"a made-up token is introspected as {verdict!r}")
    if set(verdict) != {"active"}:
        session.note(f"the inactive answer carries more than active: {sorted(verdict)}")


def _segment(document: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()


async def _issued_jwt(session: Session) -> tuple[dict[str, Any], str, dict[str, Any], dict[str, Any]]:
    """The metadata, and a JWT access token just issued with its header and claims (a skip for a
    provider of opaque tokens, to which these checks do not apply)."""
    document = await metadata(session)
    token = await access_token(session, document)
    parts = jwt_parts(token)
    if parts is None:
        session.skip("the provider issues opaque access tokens: there is no JWS to forge")
    return document, token, *parts


@check("identity.introspection.alg_none", "Its own token re-sent unsigned (alg none) is active: false",
       mim="identity", source="RFC 8725 §2.1, §3.1; RFC 7662 §2.2")
async def alg_none(session: Session) -> None:
    document, _, header, claims = await _issued_jwt(session)
    unsigned = f"{_segment({**header, 'alg': 'none'})}.{_segment(claims)}."
    _, verdict = await introspect(session, document, unsigned)
    session.expect(verdict["active"] is False, "a token with the provider's own claims but alg none and no "
                   f"signature is introspected as {verdict!r}")


@check("identity.introspection.altered_claims", "Its own token with claims changed under the old signature "
       "is active: false", mim="identity", source="RFC 7515 §5.2; RFC 7662 §2.2")
async def altered_claims(session: Session) -> None:
    document, token, _, claims = await _issued_jwt(session)
    header_segment, _, signature = token.split(".")
    widened = {**claims, "scope": f"{claims.get('scope', '')} admin".strip(), "exp": int(claims.get("exp", 0)) + 86400}
    _, verdict = await introspect(session, document, f"{header_segment}.{_segment(widened)}.{signature}")
    session.expect(verdict["active"] is False, "a token whose scope and expiry were changed after signing is "
                   f"introspected as {verdict!r}")


@check("identity.introspection.active", "A token it issued is active, with its client_id and expiry",
       mim="identity", source="RFC 7662 §2.2")
async def active(session: Session) -> None:
    document = await metadata(session)
    token = await access_token(session, document)
    answer, verdict = await introspect(session, document, token)
    session.expect(verdict["active"] is True, f"a token just issued is introspected as {verdict!r}")
    if "client_id" in verdict:
        session.expect(verdict["client_id"] == session.target.client_id, f"introspection says client_id "
                       f"{verdict['client_id']!r}, the token was issued to {session.target.client_id!r}")
    if "exp" in verdict:
        session.expect(isinstance(verdict["exp"], int), f"exp is {verdict['exp']!r}, expected seconds since epoch")
    missing = [name for name in ("scope", "client_id", "exp") if name not in verdict]
    if missing:
        session.note(f"the active answer has no {', '.join(missing)} (optional)")


@check("identity.revocation.effective", "A revoked access token is no longer active", mim="identity",
       source="RFC 7009 §2.1, §2.2")
async def revocation_effective(session: Session) -> None:
    document = await metadata(session)
    url = endpoint(session, document, "revocation_endpoint", "revocation")
    endpoint(session, document, "introspection_endpoint", "checking a revocation")
    token = await access_token(session, document)
    answer = await post_as_client(session, document, url, {"token": token, "token_type_hint": "access_token"},
                                  REVOCATION_METHODS)
    session.expect(answer.status_code == 200, f"revoking its own token answered {answer.status_code}: "
                   f"{answer.text[:200]!r}")
    _, verdict = await introspect(session, document, token)
    session.expect(verdict["active"] is False, f"after revocation the token is still introspected as {verdict!r}")


@check("identity.revocation.unknown_token", "Revoking a token it does not know answers 200", mim="identity",
       source="RFC 7009 §2.2")
async def revocation_unknown(session: Session) -> None:
    document = await metadata(session)
    url = endpoint(session, document, "revocation_endpoint", "revocation")
    credentials(session)
    answer = await post_as_client(session, document, url, {"token": unique("revoked")}, REVOCATION_METHODS)
    session.expect(answer.status_code == 200, f"revoking an unknown token answered {answer.status_code}, expected "
                   f"200 (an invalid token is not an error): {answer.text[:200]!r}")


@check("identity.ppi.access_token", "Issued JWT access tokens validate against PPI jwt-access-token-claims",
       mim="identity", source="PPI jwt-access-token-claims@1.0.0", profile="mim")
async def access_token_ppi(session: Session) -> None:
    parts = jwt_parts(await access_token(session, await metadata(session)))
    session.expect(parts is not None, "the access token is not a JWT, which PPI jwt-access-token-claims requires")
    conforms(session, parts[1], "jwt-access-token-claims@1.0.0", "the access token's claims")


@check("identity.ppi.introspection", "Introspection answers validate against PPI introspection-response",
       mim="identity", source="PPI introspection-response@1.0.0", profile="mim")
async def introspection_ppi(session: Session) -> None:
    document = await metadata(session)
    _, verdict = await introspect(session, document, await access_token(session, document))
    conforms(session, verdict, "introspection-response@1.0.0", "the answer about an active token")
    _, verdict = await introspect(session, document, unique("garbage"))
    conforms(session, verdict, "introspection-response@1.0.0", "the answer about a made-up token")
