"""RFC 6750 bearer tokens on FastAPI routes: which scopes a route needs, and the challenges.

Failures answer as RFC 9457 problems carrying the RFC 6750 section 3 ``WWW-Authenticate``
challenge, so a client learns both what went wrong and which error code applies:
no credentials -> 401 (no error code), a malformed header -> 400 ``invalid_request``, a token
that does not verify -> 401 ``invalid_token``, a valid token lacking a scope -> 403
``insufficient_scope``. With ``auth = "off"`` (a MIM behind the gateway, or on a laptop) every
request passes and the dependency returns None.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mims.kit.auth.rfc7517 import KeySetUnavailable
from mims.kit.auth.rfc7662 import IntrospectionUnavailable
from mims.kit.auth.rfc9068 import AccessToken, InvalidToken
from mims.kit.problems import ProblemError, ProblemItem

__all__ = ["REALM", "bearer_token", "require_scopes"]

REALM = "oup"
#: RFC 6750 section 2.1: b64token.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
#: Characters RFC 6750 section 3 allows inside error_description and scope.
_NOT_ALLOWED_IN_CHALLENGE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")
_HEADER = "/authorization"

# Declares the bearer scheme in the OpenAPI document; the header itself is parsed below, as
# HTTPBearer cannot tell a missing header from a malformed one.
OPENAPI_BEARER = HTTPBearer(
    auto_error=False, scheme_name="bearer", bearerFormat="JWT", description="RFC 9068 JWT access token"
)


def require_scopes(
    *scopes: str, always: bool = False, introspect: bool = False
) -> Callable[..., Awaitable[AccessToken | None]]:
    """A route dependency admitting requests whose bearer token holds every one of ``scopes``.

    The verified token is returned and also kept on ``request.state.token``. It reads
    ``app.state.settings.auth`` and ``app.state.token_verifier``; ``always`` checks the token
    even with ``auth = "off"`` (administration routes, which no deployment may leave open).
    ``introspect`` also asks the issuer (RFC 7662) whether the token was revoked, for routes
    where a signature alone is not enough; it needs the verifier's introspection settings.
    """
    required = tuple(dict.fromkeys(scopes))

    async def bearer_token(
        request: Request, _: HTTPAuthorizationCredentials | None = Depends(OPENAPI_BEARER)
    ) -> AccessToken | None:
        if request.app.state.settings.auth == "off" and not always:
            return None
        verifier = getattr(request.app.state, "token_verifier", None)
        if verifier is None:
            raise RuntimeError("auth is required but the app has no token verifier configured")
        try:
            credentials = _credentials(request)
            if introspect:
                token = await verifier.verify(credentials, introspect=True)
            else:  # verifiers of their own (the identity MIM's) need not know the option
                token = await verifier.verify(credentials)
        except InvalidToken as exc:
            raise ProblemError(
                401,
                "Unauthorized",
                f"invalid access token: {exc.reason}",
                errors=[ProblemItem(_HEADER, exc.reason, "header")],
                headers={"WWW-Authenticate": _challenge(error="invalid_token", error_description=exc.reason)},
            ) from None
        except (KeySetUnavailable, IntrospectionUnavailable) as exc:
            raise ProblemError(503, "Service Unavailable", f"access tokens cannot be verified now: {exc}") from None
        missing = [scope for scope in required if scope not in token.scopes]
        if missing:
            raise ProblemError(
                403,
                "Forbidden",
                f"the access token lacks scope {' '.join(missing)}",
                headers={"WWW-Authenticate": _challenge(error="insufficient_scope", scope=" ".join(required))},
            )
        request.state.token = token
        return token

    return bearer_token


def bearer_token(request: Request) -> str | None:
    """The credentials of an ``Authorization: Bearer ...`` header; None for no header, another
    scheme or nothing after it (for routes that check a token of their own kind)."""
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    credentials = credentials.strip(" ")
    return credentials if scheme.lower() == "bearer" and credentials else None


def _credentials(request: Request) -> str:
    """The bearer token from the Authorization header (RFC 6750 section 2.1)."""
    header = request.headers.get("authorization")
    scheme, _, credentials = (header or "").partition(" ")
    if scheme.lower() != "bearer":
        # No header, or another scheme (Basic, ...): no bearer credentials at all.
        raise ProblemError(
            401,
            "Unauthorized",
            "this request needs a bearer access token",
            errors=[ProblemItem(_HEADER, "expected 'Bearer <access token>'", "header")],
            headers={"WWW-Authenticate": _challenge()},
        )
    credentials = credentials.strip(" ")
    if not _B64TOKEN.fullmatch(credentials):
        raise ProblemError(
            400,
            "Bad Request",
            "malformed bearer credentials",
            errors=[ProblemItem(_HEADER, "the token after 'Bearer ' is missing or not a b64token", "header")],
            headers={"WWW-Authenticate": _challenge(error="invalid_request")},
        )
    return credentials


def _challenge(**params: str) -> str:
    """``Bearer realm="oup", key="value", ...`` with values reduced to what RFC 6750 allows."""
    pairs = [("realm", REALM), *params.items()]
    return "Bearer " + ", ".join(f'{key}="{_NOT_ALLOWED_IN_CHALLENGE.sub("", value)}"' for key, value in pairs)
