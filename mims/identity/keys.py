"""The keys access tokens are signed with, in plain Python.

One ES256 key is created on first start and kept in storage, so tokens stay valid across
restarts and replicas. Every key has a ``kid`` (its RFC 7638 thumbprint), so verifiers pick
the right one when rotation publishes several.

Rotation adds a new key, which signs from then on, and gives every key that signed until then
a ``retired_at`` at the end of an overlap period: until that moment the old key is still
published, so tokens it signed keep verifying; from then on it is neither published nor used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from joserfc.jwk import ECKey, Key, import_key

ALG = "ES256"


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    alg: str
    private_jwk: dict[str, Any]
    created_at: datetime
    #: When the key stops being published; set by rotation, None while it is a signing key.
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
        """Keys not retired yet (published), oldest first."""
        ...

    async def signing(self) -> list[SigningKey]:
        """Keys no rotation has given a ``retired_at``, oldest first."""
        ...

    async def rotate(self, key: SigningKey, retire_at: datetime) -> list[SigningKey]:
        """In one transaction: give every signing key ``retired_at=retire_at`` and add ``key``.

        Returns the keys that were retired."""
        ...


def generate_signing_key(clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> SigningKey:
    key = ECKey.generate_key("P-256", {"use": "sig", "alg": ALG}, private=True)
    kid = key.thumbprint()
    return SigningKey(kid=kid, alg=ALG, private_jwk={**key.as_dict(private=True), "kid": kid}, created_at=clock())


async def current_signing_key(store: SigningKeyStore) -> SigningKey:
    """The key to sign with (the one the last rotation added), created if there is none yet.

    Should replicas starting together each create one, the oldest wins, so they settle on the
    same key; a key a racing replica created as well is still published, so its tokens verify too.
    """
    signing = await store.signing()
    if not signing:
        await store.add(generate_signing_key())
        signing = await store.signing()
    return signing[0]


async def rotate_signing_key(
    store: SigningKeyStore,
    *,
    overlap: timedelta,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[SigningKey, list[SigningKey]]:
    """A new key that signs from now on, and the keys it replaces, published ``overlap`` longer."""
    if overlap < timedelta(0):
        raise ValueError("the overlap period cannot be negative")
    now = clock()
    key = generate_signing_key(clock=lambda: now)
    retired = await store.rotate(key, retire_at=now + overlap)
    return key, retired


def jwk_set(keys: list[SigningKey]) -> dict[str, Any]:
    """The RFC 7517 JWK Set document publishing ``keys``."""
    return {"keys": [key.public_jwk() for key in keys]}
