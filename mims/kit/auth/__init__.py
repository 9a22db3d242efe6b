"""Token verification for MIMs exposed directly: RFC 6750 bearer, RFC 9068 JWT, RFC 7517 JWKS.

Behind the gateway, tokens are enforced there and ``OUP_AUTH=off``; a MIM reachable on its
own sets ``OUP_AUTH=required`` and checks tokens against the identity MIM's JWKS, accepts
tokens of the foreign issuers on a trust list, and may ask the issuer's introspection endpoint.
A MIM calling such a MIM gets client-credentials tokens from ``mims.kit.auth.client_credentials``
(imported on its own: it loads authlib's HTTP client).
"""

from mims.kit.auth.caller import Caller, authenticated, caller
from mims.kit.auth.rfc6750 import bearer_token, require_scopes
from mims.kit.auth.rfc7517 import KeySetUnavailable
from mims.kit.auth.rfc7662 import IntrospectionUnavailable, Introspector
from mims.kit.auth.rfc9068 import AccessToken, InvalidToken, TokenVerifier
from mims.kit.auth.trust import InvalidTrustList, TrustedIssuer, TrustList, TrustListFile, TrustListUrl

__all__ = [
    "AccessToken",
    "Caller",
    "IntrospectionUnavailable",
    "Introspector",
    "InvalidToken",
    "InvalidTrustList",
    "KeySetUnavailable",
    "TokenVerifier",
    "TrustList",
    "TrustListFile",
    "TrustListUrl",
    "TrustedIssuer",
    "authenticated",
    "bearer_token",
    "caller",
    "require_scopes",
]
