"""The policy enforcement point: may this caller use this route for these entity types?

The token is verified by the kit (``require_scopes``: our issuers and the trust list, foreign
scopes mapped), so refusals look the same as at any MIM: 401 with an RFC 6750 challenge, 400
``invalid_request``, 403 ``insufficient_scope``, 503 when keys cannot be fetched. A token
lacking a scope may still pass on a data-access grant from the :class:`~gateway.grants.GrantSource`.

A grant with a q filter or a geo-query opens entity queries only (``GET /ngsi-ld/v1/entities``):
the query forwarded is the caller's with the grant's q ANDed (``(caller);(grant)``) and the grant's
geo-query; a grant with a count of uses has each use taken from the marketplace before the
request is forwarded (:func:`take_use`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote_plus

from starlette.requests import Request

from gateway.grants import (
    CachedGrants,
    Grant,
    GrantSource,
    GrantsUnavailable,
    UseRefused,
)
from gateway.routes import Route
from mims.kit.auth import AccessToken, require_scopes
from mims.kit.auth.rfc6750 import REALM
from mims.kit.problems import ProblemError, ProblemItem

_verify = require_scopes(always=True)
_ERROR_CODE = re.compile(r'error="([a-z_]+)"')
_TYPE_OPERATORS = re.compile(r"[,;|()]")
ENTITY_QUERY = "/ngsi-ld/v1/entities"
GEO_QUERY = ("georel", "geometry", "coordinates", "geoproperty")
#: Query parameters that bring linked entities of other types into the answer (clause 4.5.23).
LINKING = ("join", "joinLevel", "containedBy")
#: Why a grant that would open a request does not, as told to the caller.
UNUSABLE = {
    "exhausted": "its count of uses is exhausted",
    "withdrawn": "it was withdrawn (the agreement was terminated or expired)",
    "not_yet_valid": "it is not valid yet",
    "expired": "its validity has ended",
}


@dataclass(eq=False)
class GrantRefusal(ProblemError):
    """A refusal on account of a data-access grant; ``audit_reason`` names it in the audit log."""

    audit_reason: str = "grant"


@dataclass(frozen=True, slots=True)
class Admission:
    """Why a request was let through: the verified token, the grant if one was needed, and the
    query string to forward in place of the caller's (a narrowing grant's) if any."""

    token: AccessToken
    grant: Grant | None = None
    query: bytes | None = None

    @property
    def dataset(self) -> str | None:
        return self.grant.dataset if self.grant else None


def entity_types(selection: str) -> list[str]:
    """Every entity type a ``type`` query parameter names (NGSI-LD 1.8 clause 4.17: ``,`` and ``|``
    for or, ``;`` for and, parentheses). All of them count: a caller must hold the scopes (or a
    grant) of each type named, whatever the expression, so ``A|B`` cannot reach B on A's scopes."""
    return list(dict.fromkeys(name.strip() for name in _TYPE_OPERATORS.split(selection) if name.strip()))


def required_scopes(route: Route, entity_types: list[str]) -> list[str]:
    """The route's scopes plus those its entry requires for each of ``entity_types``."""
    scopes = list(route.scopes)
    for entity_type in entity_types:
        scopes.extend(route.types.get(entity_type, ()))
    return list(dict.fromkeys(scopes))


async def admit(request: Request, route: Route, entity_types: list[str], grants: GrantSource, *,
                enforces_grants: bool = False) -> Admission:
    """Verify the bearer token and its scopes for ``route``; raise the refusal as a ProblemError.

    Only a caller that ``enforces_grants`` (narrows the query as :attr:`Admission.query` says and
    takes counted uses with :func:`take_use`) is admitted on grants with q, geo or a count.
    """
    token = await _verify(request, None)
    assert token is not None  # always=True: verified or raised
    if route.any_scopes and not set(route.any_scopes) & set(token.scopes):
        raise ProblemError(
            403, "Forbidden", f"the access token holds none of the scopes {' '.join(route.any_scopes)} for route "
            f"{route.name}", headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope", '
                                                          f'scope="{route.any_scopes[0]}"'})
    needed = required_scopes(route, entity_types)
    missing = [scope for scope in needed if scope not in token.scopes]
    if not missing:
        return Admission(token)
    try:
        held = await grants.grants(token.client_id, token.sub)
    except GrantsUnavailable as error:
        raise GrantRefusal(503, "Service Unavailable", f"the access token lacks scope {' '.join(missing)} and "
                           f"the marketplace could not be asked for data-access grants: {error}",
                           headers={"Retry-After": "5"}, audit_reason="grants_unavailable") from None
    now = datetime.now(UTC)
    covering = [grant for grant in held if grant.covers(missing, entity_types, subject=token.sub, at=now)
                and (enforces_grants or not (grant.narrows or grant.counted))]
    if covering:
        # Prefer a grant opening more: one not narrowing the query, then one not counting uses.
        grant = min(covering, key=lambda g: (g.narrows, g.counted))
        if grant.narrows:
            return Admission(token, grant, _narrowed(request, route, grant))
        return Admission(token, grant)
    unusable = [(grant, grant.unusable(subject=token.sub, at=now)) for grant in held]
    known = [(grant, reason) for grant, reason in unusable if reason in UNUSABLE and grant.opens(missing, entity_types)]
    if known:  # grants that would open this request, but not now: say why
        reasons = "; ".join(f"agreement {grant.agreement_id} for dataset {grant.dataset}: {UNUSABLE[reason]}"
                            for grant, reason in known)
        raise GrantRefusal(403, "Forbidden", f"the access token lacks scope {' '.join(missing)} and no agreement "
                           f"admits this request now ({reasons})",
                           extensions={"agreements": [{"agreement": grant.agreement_id, "reason": reason}
                                                      for grant, reason in known]},
                           audit_reason=f"grant_{known[0][1]}")
    raise ProblemError(
        403,
        "Forbidden",
        f"the access token lacks scope {' '.join(missing)} for route {route.name}",
        headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope", scope="{" ".join(needed)}"'},
    )


async def take_use(grants: GrantSource, admission: Admission) -> None:
    """Take one use of the admission's counted grant from its source; refused 403 (the caller's
    cached grants dropped) when its uses are exhausted, or it is withdrawn or out of time."""
    grant = admission.grant
    if grant is None or not grant.counted:
        return
    try:
        await grants.use(grant)
    except GrantsUnavailable as error:
        raise GrantRefusal(503, "Service Unavailable", f"this use of the agreement {grant.agreement_id} could "
                           f"not be counted: {error}", headers={"Retry-After": "5"},
                           audit_reason="grants_unavailable") from None
    except UseRefused as refused:
        if isinstance(grants, CachedGrants):
            grants.forget(admission.token.client_id)
        raise GrantRefusal(403, "Forbidden", f"the agreement {grant.agreement_id} for dataset {grant.dataset} "
                           f"no longer admits this request: {refused.detail}",
                           extensions={"reason": refused.reason}, audit_reason=f"grant_{refused.reason}") from None


def _narrowed(request: Request, route: Route, grant: Grant) -> bytes:
    """The caller's query string with ``grant``'s q ANDed and its geo-query set, for an entity query."""
    if not (request.method in ("GET", "HEAD") and route.upstream == "context"
            and route.upstream_path(request.url.path) == ENTITY_QUERY):
        raise GrantRefusal(403, "Forbidden", f"the grant for dataset {grant.dataset} opens entity queries "
                           f"only (GET {ENTITY_QUERY}?type=...), narrowed by its q and geo-query",
                           audit_reason="grant_entity_queries_only")
    kept: list[bytes] = []
    caller_q: list[bytes] = []
    for pair in (request.scope.get("query_string") or b"").split(b"&"):
        raw_name, _, raw_value = pair.partition(b"=")
        name = unquote_plus(raw_name.decode("latin-1"))
        if not pair:
            continue
        if name == "q":
            caller_q.append(raw_value)
        elif grant.geo is not None and name in GEO_QUERY:
            raise _bad_query(name, f"the grant for dataset {grant.dataset} fixes the geo-query; leave out {name}")
        elif name in LINKING:
            raise _bad_query(name, f"the grant for dataset {grant.dataset} opens its own entities only; "
                                   f"leave out {name}")
        else:
            kept.append(pair)
    if len(caller_q) > 1:
        raise _bad_query("q", "q is given more than once")
    own = caller_q[0] if caller_q and caller_q[0] else None
    if own is not None:
        _balanced(unquote_plus(own.decode("latin-1")))
    if grant.q is not None:
        theirs = quote(grant.q, safe="").encode()
        kept.append(b"q=" + (b"(" + own + b");(" + theirs + b")" if own is not None else theirs))
    elif own is not None:
        kept.append(b"q=" + own)
    if grant.geo is not None:
        kept += [f"{name}={quote(value, safe='')}".encode() for name, value in grant.geo.parameters()]
    return b"&".join(kept)


def _balanced(q: str) -> None:
    """Refuse a q whose parentheses (outside JSON strings) do not pair up: ``a)|(b`` would escape
    the group the grant's q is ANDed to."""
    depth, index = 0, 0
    while index < len(q):
        char = q[index]
        if char == '"':
            index += 1
            while index < len(q) and q[index] != '"':
                index += 2 if q[index] == "\\" else 1
            if index >= len(q):
                raise _bad_query("q", "q holds an unterminated string")
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise _bad_query("q", f"q closes a parenthesis it did not open (position {index})")
        index += 1
    if depth:
        raise _bad_query("q", "q leaves a parenthesis open")


def _bad_query(name: str, detail: str) -> GrantRefusal:
    return GrantRefusal(400, "Bad Request", detail, errors=[ProblemItem(f"/{name}", detail, "query")],
                        audit_reason="grant_query")


def refusal_reason(problem: ProblemError) -> str:
    """A short reason for the audit log: the grant's, the RFC 6750 error code, or what the status means."""
    if isinstance(problem, GrantRefusal):
        return problem.audit_reason
    found = _ERROR_CODE.search(problem.headers.get("WWW-Authenticate", ""))
    if found:
        return found.group(1)
    return {401: "missing_token", 503: "verification_unavailable"}.get(problem.status, f"status_{problem.status}")
