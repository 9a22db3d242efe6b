"""The keys access tokens are signed with, in plain Python.

One key is created on first start and kept in storage, so tokens stay valid across restarts
and replicas. Every key has a ``kid`` (its RFC 7638 thumbprint), so verifiers pick the right one
when rotation publishes several, and its own ``alg``, so a rotation may change the algorithm
while tokens signed with the old one keep verifying.

Algorithms (:data:`SIGNING_ALGORITHMS`): ES256 (P-256) by default: small tokens, fast to sign,
known to every JOSE library. Ed25519 (RFC 9864's fully-specified name for EdDSA on Ed25519) and
EdDSA (the same key under RFC 8037's older name, for verifiers that predate RFC 9864), and
RS256 for verifiers that know nothing else, with RSA 2048-bit keys as the big providers use: a
signing key is rotated and outlives its last token by only the overlap period, and a 3072-bit key
signs three times slower (about 1.8 ms a token here, which alone would cap ``/token`` near 500/s).

Rotation adds a new key, which signs from then on, and gives every key that signed until then
a ``retired_at`` at the end of an overlap period: until that moment the old key is still
published, so tokens it signed keep verifying; from then on it is neither published nor used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from joserfc.jwk import ECKey, Key, OKPKey, RSAKey, import_key

#: JWS ``alg`` -> a new private key for it.
SIGNING_ALGORITHMS: dict[str, Callable[[dict[str, Any]], Key]] = {
    "ES256": lambda parameters: ECKey.generate_key("P-256", parameters, private=True),
    "Ed25519": lambda parameters: OKPKey.generate_key("Ed25519", parameters, private=True),
    "EdDSA": lambda parameters: OKPKey.generate_key("Ed25519", parameters, private=True),
    "RS256": lambda parameters: RSAKey.generate_key(2048, parameters, private=True),
}
DEFAULT_ALG = "ES256"


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    alg: str
    private_jwk: dict[str, Any]
    created_at: datetime
    #: When the key stops being published; set by rotation, None while it is a signing key.
    retired_at: datetime | None = None

    def jwk(self) -> Key:
        """The key, private part included, ready to sign with; its ``alg`` is the one it signs with."""
        return import_key({**self.private_jwk, "alg": self.alg})

    def public_jwk(self) -> dict[str, Any]:
        """Public members only (no ``d``; for RSA no ``p``, ``q``, ``dp``, ``dq``, ``qi`` either),
        with ``kid``, ``use`` and ``alg`` (RFC 7517 section 4)."""
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


def generate_signing_key(
    alg: str = DEFAULT_ALG, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> SigningKey:
    """A new private key for the JWS algorithm ``alg`` (one of :data:`SIGNING_ALGORITHMS`)."""
    if alg not in SIGNING_ALGORITHMS:
        raise ValueError(f"signing algorithm {alg!r} is not one of {sorted(SIGNING_ALGORITHMS)}")
    key = SIGNING_ALGORITHMS[alg]({"use": "sig", "alg": alg})
    kid = key.thumbprint()
    return SigningKey(kid=kid, alg=alg, private_jwk={**key.as_dict(private=True), "kid": kid}, created_at=clock())


async def current_signing_key(store: SigningKeyStore, alg: str = DEFAULT_ALG) -> SigningKey:
    """The key to sign with (the one the last rotation added), created for ``alg`` if there is
    none yet; an existing key keeps its own algorithm until a rotation replaces it.

    Should replicas starting together each create one, the oldest wins, so they settle on the
    same key; a key a racing replica created as well is still published, so its tokens verify too.
    """
    signing = await store.signing()
    if not signing:
        await store.add(generate_signing_key(alg))
        signing = await store.signing()
    return signing[0]


async def rotate_signing_key(
    store: SigningKeyStore,
    *,
    overlap: timedelta,
    alg: str = DEFAULT_ALG,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[SigningKey, list[SigningKey]]:
    """A new ``alg`` key that signs from now on, and the keys it replaces, published ``overlap`` longer."""
    if overlap < timedelta(0):
        raise ValueError("the overlap period cannot be negative")
    now = clock()
    key = generate_signing_key(alg, clock=lambda: now)
    retired = await store.rotate(key, retire_at=now + overlap)
    return key, retired


def jwk_set(keys: list[SigningKey]) -> dict[str, Any]:
    """The RFC 7517 JWK Set document publishing ``keys``."""
    return {"keys": [key.public_jwk() for key in keys]}
