"""Identity checks of the token endpoint: a client_credentials token is issued as RFC 6749 says,
a JWT access token follows RFC 9068 (``typ``, signature by a published key, claims), unknown scopes
are refused or visibly dropped, and errors are answered with the RFC 6749 §5.2 codes."""

from __future__ import annotations

import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

import ppi_schemas
from conformance.checks.common import body
from conformance.checks.identity_client import (access_token, credentials, issue, jwt_parts, metadata,
                                                post_as_client, token_url, unique)
from conformance.checks.identity_discovery import jwk_set
from conformance.registry import check
from conformance.session import Session

ASYMMETRIC_ALGS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519")
"""Algorithms a verifier can check with a published public key (RFC 7518 §3.1, RFC 8037)."""
AT_JWT = ("at+jwt", "application/at+jwt")
REQUIRED_CLAIMS = ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")
"""RFC 9068 §2.2."""


async def jwt_access_token(session: Session) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A fresh access token, its header and claims, and the metadata; skipped when it is opaque."""
    document = await metadata(session)
    token = await access_token(session, document)
    parts = jwt_parts(token)
    if parts is None:
        session.skip("the provider issues opaque access tokens, so RFC 9068 does not apply")
    return token, *parts, document


@check("identity.token.client_credentials", "Issues an access token to a client by client_credentials",
       mim="identity", source="RFC 6749 §4.4, §5.1")
async def client_credentials(session: Session) -> None:
    document = await metadata(session)
    answer = await issue(session, document)
    session.expect(answer.status_code == 200,
                   f"the token endpoint answered {answer.status_code}: {answer.text[:200]!r}")
    token = body(answer)
    session.expect(isinstance(token, dict) and isinstance(token.get("access_token"), str) and token["access_token"],
                   f"the token response has no access_token: {answer.text[:200]!r}")
    session.expect(str(token.get("token_type", "")).lower() == "bearer",
                   f"token_type is {token.get('token_type')!r}, expected Bearer")
    session.expect("no-store" in answer.headers.get("cache-control", ""),
                   f"Cache-Control is {answer.headers.get('cache-control')!r}, must contain no-store")
    session.expect("refresh_token" not in token, "a refresh token was issued for client_credentials (RFC 6749 §4.4.3 "
                   "says it should not be)")
    if "expires_in" not in token:
        session.note("the token response has no expires_in (recommended)")


@check("identity.token.jwt_typ", "A JWT access token says typ at+jwt in its header", mim="identity",
       source="RFC 9068 §2.1")
async def jwt_typ(session: Session) -> None:
    _, header, _, _ = await jwt_access_token(session)
    session.expect(header.get("typ") in AT_JWT, f"the access token's typ is {header.get('typ')!r}, expected at+jwt "
                   "(so it cannot be confused with an ID token)")


@check("identity.token.jwt_signature", "A JWT access token is signed asymmetrically by a key of its JWK Set",
       mim="identity", source="RFC 9068 §2.1, §4; RFC 7515 §5.2")
async def jwt_signature(session: Session) -> None:
    token, header, _, _ = await jwt_access_token(session)
    alg = header.get("alg")
    session.expect(alg in ASYMMETRIC_ALGS, f"the access token's alg is {alg!r}, expected an asymmetric one "
                   f"({', '.join(ASYMMETRIC_ALGS)}); RFC 9068 forbids none")
    keys = [k for k in await jwk_set(session) if k.get("kty") != "oct"]
    session.expect(any(k.get("kid") == header.get("kid") for k in keys) or (len(keys) == 1 and not header.get("kid")),
                   f"no published key has the token's kid {header.get('kid')!r}")
    public = [{m: v for m, v in k.items() if m not in ("d", "p", "q", "dp", "dq", "qi", "oth")} for k in keys]
    try:
        jwt.decode(token, KeySet.import_key_set({"keys": public}), algorithms=[alg])
    except (JoseError, ValueError) as error:
        session.fail(f"the access token's signature does not verify with the JWK Set: {type(error).__name__} {error}")


@check("identity.token.jwt_claims", "A JWT access token carries iss, exp, aud, sub, client_id, iat and jti",
       mim="identity", source="RFC 9068 §2.2")
async def jwt_claims(session: Session) -> None:
    _, _, claims, document = await jwt_access_token(session)
    missing = [name for name in REQUIRED_CLAIMS if claims.get(name) in (None, "")]
    session.expect(not missing, f"the access token lacks {', '.join(missing)}")
    session.expect(claims["iss"] == document.get("issuer"), f"iss is {claims['iss']!r}, the metadata's issuer is "
                   f"{document.get('issuer')!r}")
    session.expect(claims["client_id"] == session.target.client_id,
                   f"client_id is {claims['client_id']!r}, the token was issued to {session.target.client_id!r}")
    now = time.time()
    session.expect(isinstance(claims["exp"], (int, float)) and claims["exp"] > now,
                   f"exp {claims['exp']!r} is not a time in the future")
    session.expect(isinstance(claims["iat"], (int, float)) and claims["iat"] <= now + 60,
                   f"iat {claims['iat']!r} is not a time up to now")


@check("identity.token.unknown_scope", "An unknown scope is refused with invalid_scope or left out of the grant",
       mim="identity", source="RFC 6749 §3.3, §5.1, §5.2")
async def unknown_scope(session: Session) -> None:
    document = await metadata(session)
    scope = unique("scope")
    answer = await issue(session, document, scope)
    if answer.status_code == 400:
        error = body(answer).get("error") if isinstance(body(answer), dict) else None
        session.expect(error == "invalid_scope", f"the unknown scope was refused with error {error!r}, expected "
                       "invalid_scope")
        return
    session.expect(answer.status_code == 200, f"asking for an unknown scope answered {answer.status_code}: "
                   f"{answer.text[:200]!r}")
    granted = body(answer).get("scope")
    session.expect(granted is not None, "the unknown scope was dropped but the response has no scope member, which "
                   "is required when the grant differs from the request")
    session.expect(scope not in str(granted).split(), f"the unknown scope {scope} was granted")
    session.note(f"an unknown scope is dropped rather than refused (granted: {granted!r})")


def _error_response(session: Session, answer: Any, expected: tuple[str, ...], what: str) -> str:
    session.expect(answer.status_code == 400,
                   f"{what} answered {answer.status_code}, expected 400: {answer.text[:200]!r}")
    document = body(answer)
    error = document.get("error") if isinstance(document, dict) else None
    session.expect(error in expected, f"{what} answered error {error!r}, expected {' or '.join(expected)}")
    return error


@check("identity.errors.invalid_client", "A wrong client secret by HTTP Basic is refused with 401, "
       "WWW-Authenticate and invalid_client", mim="identity", source="RFC 6749 §5.2")
async def invalid_client(session: Session) -> None:
    document = await metadata(session)
    answer = await session.http.post(token_url(session, document), data={"grant_type": "client_credentials"},
                                     auth=(unique("client"), unique("secret")))
    session.expect(answer.status_code == 401, f"an unknown client by HTTP Basic answered {answer.status_code}, "
                   f"expected 401: {answer.text[:200]!r}")
    session.expect(answer.headers.get("www-authenticate"), "the 401 has no WWW-Authenticate header")
    document = body(answer)
    session.expect(isinstance(document, dict) and document.get("error") == "invalid_client",
                   f"expected error invalid_client, got {answer.text[:200]!r}")


@check("identity.errors.unsupported_grant_type", "An unknown grant type is refused with 400 unsupported_grant_type",
       mim="identity", source="RFC 6749 §5.2")
async def unsupported_grant_type(session: Session) -> None:
    document = await metadata(session)
    credentials(session)
    answer = await post_as_client(session, document, token_url(session, document),
                                  {"grant_type": f"urn:example:{unique('grant')}"})
    _error_response(session, answer, ("unsupported_grant_type",), "an unknown grant type")


@check("identity.errors.invalid_grant", "A made-up refresh token or authorization code is refused with 400 "
       "invalid_grant", mim="identity", source="RFC 6749 §5.2")
async def invalid_grant(session: Session) -> None:
    document = await metadata(session)
    credentials(session)
    grants = document.get("grant_types_supported", ["authorization_code"])
    if "refresh_token" in grants:
        data = {"grant_type": "refresh_token", "refresh_token": unique("refresh")}
    elif "authorization_code" in grants:
        data = {"grant_type": "authorization_code", "code": unique("code"), "redirect_uri": "https://example.com/cb"}
    else:
        session.skip("neither refresh_token nor authorization_code is advertised")
    answer = await post_as_client(session, document, token_url(session, document), data)
    error = _error_response(session, answer, ("invalid_grant", "unauthorized_client"),
                            f"a made-up {data['grant_type']}")
    if error == "unauthorized_client":
        session.note(f"this client may not use {data['grant_type']}, so the made-up grant itself was not judged")


TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
EXCHANGE_PPI = "token-exchange-request@1.0.0"


@check("identity.token_exchange.invalid_refused", f"Every invalid {EXCHANGE_PPI} example is refused with 400 and "
       "an OAuth error", mim="identity", source=f"RFC 8693 §2.1, §2.2.2; PPI {EXCHANGE_PPI}", profile="mim")
async def token_exchange_invalid_refused(session: Session) -> None:
    document = await metadata(session)
    if TOKEN_EXCHANGE not in document.get("grant_types_supported", []):
        session.skip("token exchange (RFC 8693) is not advertised in grant_types_supported")
    credentials(session)
    url, issued, errors = token_url(session, document), [], set()
    for example in ppi_schemas.get(EXCHANGE_PPI).examples_invalid:
        answer = await post_as_client(session, document, url, example.payload)
        grant = example.payload.get("grant_type")
        if (answer.status_code == 200 and grant != TOKEN_EXCHANGE and isinstance(body(answer), dict)
                and "issued_token_type" not in body(answer)):
            # Another grant this client may use: its extra parameters are ignored (RFC 6749 §3.2).
            session.note(f"{example.name}: answered as a {grant} request, not as a token exchange")
            continue
        error = body(answer).get("error") if answer.status_code == 400 and isinstance(body(answer), dict) else None
        if not isinstance(error, str):
            issued.append(f"{example.name} ({example.reason}): {answer.status_code} {answer.text[:120]!r}")
        errors.add(error)
    session.expect(not issued, "invalid token exchange requests not refused with 400 and an error: " + "; ".join(issued))
    if errors == {"unauthorized_client"}:
        session.note("this client may not use token exchange, so the requests themselves were not judged; give a "
                     "client that may, to test them")
