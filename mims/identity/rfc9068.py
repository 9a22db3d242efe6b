"""RFC 9068 JWT access tokens: authlib's generator, signed with our stored key in its own ``alg``.

Claims: iss, exp, aud, sub (the client itself for client_credentials, else the user), client_id,
iat, jti and scope (plus auth_time, acr, amr when a user signed in); header ``typ: at+jwt``,
the signing key's ``alg`` and its ``kid``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc import jwt
from joserfc.jwk import Key

from mims.identity.keys import DEFAULT_ALG
from mims.identity.rfc8707 import requested_resources


class AccessTokenGenerator(JWTBearerTokenGenerator):
    def __init__(self, *, issuer: str, default_audience: str, lifetime: int, signing_key: Callable[[], Key]) -> None:
        super().__init__(issuer, alg=DEFAULT_ALG, expires_generator=lifetime)
        self._default_audience = default_audience
        self._signing_key = signing_key

    def get_audiences(self, client: Any, user: Any, scope: str) -> str | list[str]:
        resources = requested_resources.get()
        if not resources:
            return self._default_audience
        return resources[0] if len(resources) == 1 else list(resources)

    def access_token_generator(self, client: Any, grant_type: str, user: Any, scope: str) -> str:
        """authlib's claims (RFC 9068 section 2.2), signed with the current key's own ``alg``.

        authlib signs with one fixed ``alg`` through joserfc's default registry, which allows
        only HS256, RS256 and ES256; a rotation to Ed25519 needs the key's algorithm instead.
        """
        key = self._signing_key()
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "exp": now + self._get_expires_in(client, grant_type),
            "client_id": client.get_client_id(),
            "iat": now,
            "jti": self.get_jti(client, grant_type, user, scope),
            "scope": scope,
            "sub": str(user.get_user_id()) if user else client.get_client_id(),
            "aud": self.get_audiences(client, user, scope),
        }
        extras = {"auth_time": self.get_auth_time(user), "acr": self.get_acr(user), "amr": self.get_amr(user)}
        claims.update({name: value for name, value in extras.items() if value})
        claims.update(self.get_extra_claims(client, grant_type, user, scope))
        alg = key.alg or DEFAULT_ALG
        header = {"alg": alg, "typ": "at+jwt", "kid": key.kid}
        return jwt.encode(header, claims, key, algorithms=[alg])
