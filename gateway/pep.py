"""The policy enforcement point: may this caller use this route for these entity types?

The token is verified by the kit (``require_scopes``: our issuers and the trust list, foreign
scopes mapped), so refusals look the same as at any MIM: 401 with an RFC 6750 challenge, 400
``invalid_request``, 403 ``insufficient_scope``, 503 when keys cannot be fetched. A token
lacking a scope may still pass on a data-access grant from the :class:`~gateway.grants.GrantSource`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from starlette.requests import Request

from gateway.grants import GrantSource
from gateway.routes import Route
from mims.kit.auth import AccessToken, require_scopes
from mims.kit.auth.rfc6750 import REALM
from mims.kit.problems import ProblemError

_verify = require_scopes(always=True)
_ERROR_CODE = re.compile(r'error="([a-z_]+)"')


@dataclass(frozen=True, slots=True)
class Admission:
    """Why a request was let through: the verified token, and the grant's dataset if one was needed."""

    token: AccessToken
    dataset: str | None


def required_scopes(route: Route, entity_types: list[str]) -> list[str]:
    """The route's scopes plus those its entry requires for each of ``entity_types``."""
    scopes = list(route.scopes)
    for entity_type in entity_types:
        scopes.extend(route.types.get(entity_type, ()))
    return list(dict.fromkeys(scopes))


async def admit(request: Request, route: Route, entity_types: list[str], grants: GrantSource) -> Admission:
    """Verify the bearer token and its scopes for ``route``; raise the refusal as a ProblemError."""
    token = await _verify(request, None)
    assert token is not None  # always=True: verified or raised
    needed = required_scopes(route, entity_types)
    missing = [scope for scope in needed if scope not in token.scopes]
    if not missing:
        return Admission(token, None)
    for grant in await grants.grants(token.client_id, token.sub):
        if grant.covers(missing, entity_types):
            return Admission(token, grant.dataset)
    raise ProblemError(
        403,
        "Forbidden",
        f"the access token lacks scope {' '.join(missing)} for route {route.name}",
        headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="insufficient_scope", scope="{" ".join(needed)}"'},
    )


def refusal_reason(problem: ProblemError) -> str:
    """A short reason for the audit log: the RFC 6750 error code, or what the status means."""
    found = _ERROR_CODE.search(problem.headers.get("WWW-Authenticate", ""))
    if found:
        return found.group(1)
    return {401: "missing_token", 503: "verification_unavailable"}.get(problem.status, f"status_{problem.status}")
