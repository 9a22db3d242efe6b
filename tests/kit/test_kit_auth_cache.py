"""The verified-token cache: a token checked once is not checked again, but stays current."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from joserfc import jws, jwt
from joserfc.jwk import ECKey, KeySet

from mims.kit.auth import InvalidToken, TokenVerifier

ISSUER = "https://identity.rotterdam.example"
AUDIENCE = "https://context.rotterdam.example"
KEY = ECKey.generate_key("P-256", {"kid": "ec-1"})
NOW = 1_900_000_000


def mint(**claims: Any) -> str:
    body = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "client_id": "dashboard",
        "iat": NOW,
        "exp": NOW + 300,
        "jti": uuid.uuid4().hex,
        "scope": "context:read",
        **claims,
    }
    return jwt.encode({"alg": "ES256", "kid": "ec-1", "typ": "at+jwt"}, body, KEY)


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def signature_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every signature the verifier checks."""
    checked: list[str] = []
    validate = jws.validate_compact

    def counting(signed: Any, *args: Any, **kwargs: Any) -> bool:
        checked.append(signed.payload)
        return validate(signed, *args, **kwargs)

    monkeypatch.setattr(jws, "validate_compact", counting)
    return checked


def verifier(clock: Clock, **overrides: Any) -> TokenVerifier:
    return TokenVerifier(
        **{"jwks": KeySet([KEY]).as_dict(), "issuers": [ISSUER], "audience": AUDIENCE, "clock": clock, **overrides}
    )


async def test_a_verified_token_is_not_verified_again(signature_checks: list[str]) -> None:
    checking, token = verifier(Clock()), mint()

    first = await checking.verify(token)
    again = await checking.verify(token)

    assert again == first
    assert len(signature_checks) == 1


async def test_a_cached_token_expires_on_time(signature_checks: list[str]) -> None:
    clock = Clock()
    checking, token = verifier(clock, leeway=30), mint()
    await checking.verify(token)

    clock.now = NOW + 300 + 29
    assert (await checking.verify(token)).sub == "alice"
    clock.now = NOW + 300 + 30
    with pytest.raises(InvalidToken, match="expired"):
        await checking.verify(token)
    assert len(signature_checks) == 2  # verified in full again, which said why


async def test_a_cached_token_is_not_valid_before_its_nbf_when_the_clock_goes_back() -> None:
    clock = Clock()
    checking, token = verifier(clock, leeway=0), mint(iat=NOW - 100, nbf=NOW)
    await checking.verify(token)

    clock.now = NOW - 1

    with pytest.raises(InvalidToken, match="not yet valid"):
        await checking.verify(token)


async def test_failures_are_never_cached(signature_checks: list[str]) -> None:
    checking = verifier(Clock())
    header, payload, signature = mint().split(".")
    forged = f"{header}.{mint(scope='admin').split('.')[1]}.{signature}"

    for _ in range(2):
        with pytest.raises(InvalidToken, match="signature does not verify"):
            await checking.verify(forged)

    assert len(signature_checks) == 2


async def test_the_cache_is_bounded_and_forgets_the_least_recently_used(signature_checks: list[str]) -> None:
    checking = verifier(Clock(), cache_size=2)
    first, second, third = mint(), mint(), mint()

    for token in (first, second, first, third, first, second):
        await checking.verify(token)

    # second was the least recently used when third came in, so only it was checked twice.
    assert len(signature_checks) == 4


async def test_size_zero_turns_the_cache_off(signature_checks: list[str]) -> None:
    checking, token = verifier(Clock(), cache_size=0), mint()

    await checking.verify(token)
    await checking.verify(token)

    assert len(signature_checks) == 2


async def test_the_real_clock_is_the_default() -> None:
    now = int(time.time())
    checking = TokenVerifier(jwks=KeySet([KEY]).as_dict(), issuers=[ISSUER], audience=AUDIENCE)

    assert (await checking.verify(mint(iat=now, exp=now + 60))).sub == "alice"
    with pytest.raises(InvalidToken, match="expired"):
        await checking.verify(mint(iat=now - 600, exp=now - 300))
