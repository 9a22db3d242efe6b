"""Bearer tokens on the identity MIM's own administration routes.

The identity MIM is the issuer, so it checks such tokens against its own keys and revocations
in storage rather than fetching its own JWKS over HTTP. Routes use the kit's dependency:
``Depends(require_scopes("admin", always=True))``.
"""

from __future__ import annotations

from mims.identity.rfc7662 import AccessTokens
from mims.kit.auth import AccessToken, InvalidToken


class OwnAccessTokens:
    """A token verifier (as ``app.state.token_verifier``) for this issuer's active access tokens."""

    def __init__(self, tokens: AccessTokens) -> None:
        self._tokens = tokens

    async def verify(self, token: str) -> AccessToken:
        claims = await self._tokens.active(token)
        if claims is None:
            raise InvalidToken("not an active access token of this issuer")
        scope = claims.get("scope", "")
        return AccessToken(
            sub=claims["sub"],
            client_id=claims["client_id"],
            scopes=frozenset(scope.split() if isinstance(scope, str) else ()),
            claims=claims,
        )

    async def aclose(self) -> None:
        """Nothing to release: keys are read from the MIM's own storage."""
