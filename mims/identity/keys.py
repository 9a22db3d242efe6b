"""The keys access tokens are signed with, in plain Python.

One ES256 key is created on first start and kept in storage, so tokens stay valid across
restarts and replicas. Every key has a ``kid`` (its RFC 7638 thumbprint), so verifiers pick
the right one when rotation publishes several.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from joserfc.jwk import ECKey, Key, import_key

ALG = "ES256"


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    alg: str
    private_jwk: dict[str, Any]
    created_at: datetime
    retired_at: datetime | None = None

    def jwk(self) -> Key:
        """The key, private part included, ready to sign with."""
        return import_key(self.private_jwk)

    def public_jwk(self) -> dict[str, Any]:
        """Public members only (no ``d``), with ``kid``, ``use`` and ``alg`` (RFC 7517 section 4)."""
        return {**self.jwk().as_dict(private=False), "kid": self.kid, "use": "sig", "alg": self.alg}


class SigningKeyStore(Protocol):
    async def add(self, key: SigningKey) -> None: ...

    async def active(self) -> list[SigningKey]:
        """Keys not retired, oldest first."""
        ...


def generate_signing_key(clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> SigningKey:
    key = ECKey.generate_key("P-256", {"use": "sig", "alg": ALG}, private=True)
    kid = key.thumbprint()
    return SigningKey(kid=kid, alg=ALG, private_jwk={**key.as_dict(private=True), "kid": kid}, created_at=clock())


async def current_signing_key(store: SigningKeyStore) -> SigningKey:
    """The key to sign with, created if there is none yet.

    The oldest active key wins, so replicas starting together settle on the same key; a key a
    racing replica created as well is still published, so its tokens verify too.
    """
    active = await store.active()
    if not active:
        await store.add(generate_signing_key())
        active = await store.active()
    return active[0]


def jwk_set(keys: list[SigningKey]) -> dict[str, Any]:
    """The RFC 7517 JWK Set document publishing ``keys``."""
    return {"keys": [key.public_jwk() for key in keys]}
