"""RFC 8707 resource indicators: which service a token is for, named by the client.

authlib's JWT token generator has no request parameter (its RFC 8707 support is still to
come), so the grant hands the indicators over in a context variable around token creation.
"""

from __future__ import annotations

from contextvars import ContextVar
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import OAuth2Error

#: The ``resource`` values of the token request being served; empty means the default audience.
requested_resources: ContextVar[tuple[str, ...]] = ContextVar("requested_resources", default=())


class InvalidTargetError(OAuth2Error):
    """RFC 8707 section 2: the requested resource is invalid."""

    error = "invalid_target"


def resource_indicators(values: list[str]) -> tuple[str, ...]:
    """The ``resource`` parameters: each an absolute URI without a fragment (section 2)."""
    for value in values:
        parts = urlsplit(value)
        if not parts.scheme or "#" in value:
            raise InvalidTargetError(description=f"resource {value!r} is not an absolute URI without a fragment")
    return tuple(dict.fromkeys(values))
