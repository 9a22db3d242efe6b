"""Who is calling a MIM: the verified token's identity, or the one the gateway vouches for.

With ``OUP_AUTH=required`` the caller is the bearer token's (verified like :func:`require_scopes`
does). With ``OUP_AUTH=off`` the MIM sits behind the gateway, which removes any ``X-OUP-*``
header a client sends and adds ``X-OUP-Client-Id``, ``X-OUP-Subject``, ``X-OUP-Issuer`` and
``X-OUP-Scope`` of the token it verified; without them the caller is anonymous. A MIM with auth
off must therefore be reachable only through the gateway.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from mims.kit.auth.rfc6750 import require_scopes
from mims.kit.problems import ProblemError

_verified = require_scopes()


@dataclass(frozen=True, slots=True)
class Caller:
    """The calling client (None: anonymous), its user, its token's issuer and platform scopes."""

    client_id: str | None
    subject: str | None = None
    issuer: str | None = None
    scopes: frozenset[str] = frozenset()

    @property
    def anonymous(self) -> bool:
        return self.client_id is None

    def has(self, scope: str) -> bool:
        return scope in self.scopes


async def caller(request: Request) -> Caller:
    """A route dependency: the :class:`Caller` of ``request``; a presented bad token is refused."""
    if request.app.state.settings.auth != "off":
        if not request.headers.get("authorization"):
            return Caller(None)
        token = await _verified(request, None)
        assert token is not None
        return Caller(token.client_id, token.sub, token.issuer, token.scopes)
    client_id = request.headers.get("x-oup-client-id")
    if not client_id:
        return Caller(None)
    return Caller(
        client_id,
        request.headers.get("x-oup-subject") or None,
        request.headers.get("x-oup-issuer") or None,
        frozenset(request.headers.get("x-oup-scope", "").split()),
    )


def authenticated(who: Caller) -> Caller:
    """``who``, or a 401 problem when nobody is calling."""
    if who.anonymous:
        raise ProblemError(401, "Unauthorized", "this request needs a bearer access token",
                           headers={"WWW-Authenticate": 'Bearer realm="oup"'})
    return who
