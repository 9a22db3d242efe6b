"""Token verification for MIMs exposed directly: RFC 6750 bearer, RFC 9068 JWT, RFC 7517 JWKS.

Behind the gateway, tokens are enforced there and ``OUP_AUTH=off``; a MIM reachable on its
own sets ``OUP_AUTH=required`` and checks tokens against the identity MIM's JWKS.
"""

from mims.kit.auth.rfc6750 import require_scopes
from mims.kit.auth.rfc7517 import KeySetUnavailable
from mims.kit.auth.rfc9068 import AccessToken, InvalidToken, TokenVerifier

__all__ = ["AccessToken", "InvalidToken", "KeySetUnavailable", "TokenVerifier", "require_scopes"]
