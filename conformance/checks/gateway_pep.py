"""The gateway as policy enforcement point (RFC 6750, RFC 9068): a protected route admits a
valid token holding its scope and refuses every other caller: none, the wrong scope, an expired
token, a token of an issuer it does not trust, one claiming the trusted issuer but signed by
someone else, and an unsigned one. Each refusal must carry a Bearer challenge."""

from __future__ import annotations

import time

from conformance.checks.common import conforms, problem
from conformance.checks.gateway_support import (
    READ_SCOPE,
    UNTRUSTED_ISSUER,
    bearer_header,
    claims_of,
    forged,
    get_protected,
    protected_path,
    refused,
    template_claims,
    token_or_fail,
    trusted_issuer,
    unsigned,
    wrong_scope_token,
)
from conformance.registry import check
from conformance.session import Session

PROBLEM = "problem-details@1.0.0"


@check("gateway.pep.admits-valid-token", "A protected route admits a valid token holding its scope",
       mim="gateway", source="RFC 6750 §2.1; RFC 9068 §4")
async def admits_valid_token(session: Session) -> None:
    """The control for every refusal below: a gateway refusing everything must not pass them."""
    token = await token_or_fail(session, READ_SCOPE, "admitting a valid token")
    answer = await get_protected(session, bearer_header(token))
    session.expect(200 <= answer.status_code < 300, f"GET {protected_path(session)} with a valid {READ_SCOPE} "
                   f"token answered {answer.status_code} {answer.text[:200]!r}; expected 2xx")


@check("gateway.pep.no-token", "A protected route refuses a request without a token: 401 with a Bearer challenge",
       mim="gateway", source="RFC 6750 §3, §3.1")
async def no_token(session: Session) -> None:
    answer = await get_protected(session)
    refused(session, answer, 401, f"GET {protected_path(session)} without a token", None)


@check("gateway.pep.wrong-scope", "A valid token without the route's scope is refused: 403 insufficient_scope",
       mim="gateway", source="RFC 6750 §3.1")
async def wrong_scope(session: Session) -> None:
    token = await wrong_scope_token(session)
    answer = await get_protected(session, bearer_header(token))
    refused(session, answer, 403, f"GET {protected_path(session)} with a token lacking {READ_SCOPE}",
            "insufficient_scope")


@check("gateway.pep.expired-token", "An expired token is refused: 401 invalid_token",
       mim="gateway", source="RFC 6750 §3.1; RFC 7519 §4.1.4; RFC 9068 §4")
async def expired_token(session: Session) -> None:
    token = session.target.options.get("expired_token")
    if not token:
        session.needs("needs an expired token of the trusted issuer: give --option expired_token=...")
    expires = claims_of(token).get("exp")
    if isinstance(expires, int | float) and expires > time.time():
        session.needs(f"the expired_token given has not expired (exp {int(expires)} is in the future): "
                      "give an expired one with --option expired_token=...")
    answer = await get_protected(session, bearer_header(token))
    refused(session, answer, 401, f"GET {protected_path(session)} with an expired token", "invalid_token")


@check("gateway.pep.untrusted-issuer", "A token of an issuer the gateway does not trust is refused: 401",
       mim="gateway", source="RFC 9068 §4 (iss must match the trusted issuer); RFC 6750 §3.1")
async def untrusted_issuer(session: Session) -> None:
    claims = {**await template_claims(session), "iss": UNTRUSTED_ISSUER}
    answer = await get_protected(session, bearer_header(forged(claims)))
    refused(session, answer, 401, f"GET {protected_path(session)} with a token of {UNTRUSTED_ISSUER}",
            "invalid_token")


@check("gateway.pep.forged-signature", "A token claiming the trusted issuer but signed with another key is refused: 401",
       mim="gateway", source="RFC 9068 §4 (validate the signature with the issuer's keys); RFC 7515 §5.2")
async def forged_signature(session: Session) -> None:
    issuer = await trusted_issuer(session)
    if issuer is None:
        session.needs("the trusted issuer is unknown: the gateway routes no RFC 8414 metadata and the run has "
                      "no token; give --option issuer=...")
    claims = {**await template_claims(session), "iss": issuer}
    answer = await get_protected(session, bearer_header(forged(claims)))
    refused(session, answer, 401, f"GET {protected_path(session)} with a token claiming {issuer} signed by the "
            "suite's own key", "invalid_token")


@check("gateway.pep.alg-none", "An unsigned token (alg none) is refused: 401",
       mim="gateway", source="RFC 9068 §4 (alg none must be rejected); RFC 8725 §3.1")
async def alg_none(session: Session) -> None:
    issuer = await trusted_issuer(session)
    claims = {**await template_claims(session), "iss": issuer or UNTRUSTED_ISSUER}
    answer = await get_protected(session, bearer_header(unsigned(claims)))
    refused(session, answer, 401, f"GET {protected_path(session)} with an alg none token", "invalid_token")


@check("gateway.pep.refusals-are-problems", "Refusals at a protected route are problem+json (PPI problem-details)",
       mim="gateway", source=f"PPI {PROBLEM}; RFC 9457 §3", profile="mim")
async def refusals_are_problems(session: Session) -> None:
    refusals = [("without a token", await get_protected(session)),
                ("with a token of an untrusted issuer", await get_protected(session, bearer_header(
                    forged({**await template_claims(session), "iss": UNTRUSTED_ISSUER}))))]
    for what, answer in refusals:
        what = f"GET {protected_path(session)} {what}"
        document = problem(session, answer, (401,), what)
        conforms(session, document, PROBLEM, f"the refusal of {what}")
