"""RFC 9068 JWT access tokens: authlib's generator, signed with our stored key.

Claims: iss, exp, aud, sub (the client itself for client_credentials), client_id, iat, jti and
scope; header ``typ: at+jwt`` and the ``kid`` of the signing key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc.jwk import Key, KeySet

from mims.identity.keys import ALG
from mims.identity.rfc8707 import requested_resources


class AccessTokenGenerator(JWTBearerTokenGenerator):
    def __init__(self, *, issuer: str, default_audience: str, lifetime: int, signing_key: Callable[[], Key]) -> None:
        super().__init__(issuer, alg=ALG, expires_generator=lifetime)
        self._default_audience = default_audience
        self._signing_key = signing_key

    def get_jwks(self) -> KeySet:
        # A key set of one: joserfc then writes that key's kid into the header.
        return KeySet([self._signing_key()])

    def get_audiences(self, client: Any, user: Any, scope: str) -> str | list[str]:
        resources = requested_resources.get()
        if not resources:
            return self._default_audience
        return resources[0] if len(resources) == 1 else list(resources)
