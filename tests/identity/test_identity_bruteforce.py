"""Brute-force protection: failed client authentications limited per client id and per address."""

from __future__ import annotations

import httpx
import pytest

from mims.identity.bruteforce import ClientAuthFailures

ISSUER = "http://127.0.0.1:8001"
GRANT = {"grant_type": "client_credentials"}


def from_address(identity, address: str) -> httpx.AsyncClient:
    """An HTTP client of the app whose requests come from ``address``."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=identity.app, client=(address, 40000)), base_url=ISSUER)


def assert_too_many(response: httpx.Response, what: str) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert 1 <= int(response.headers["retry-after"]) <= 60
    assert what in response.json()["detail"]


async def test_failures_for_one_client_id_get_429_and_other_clients_are_unaffected(start):
    identity = await start(token_failures_per_client="2/minute", token_failures_per_ip="10/minute")
    target, other = await identity.register(["context:read"]), await identity.register(["context:read"])
    target_id = target.client.client_id
    async with from_address(identity, "192.0.2.1") as first, from_address(identity, "192.0.2.2") as second:
        for _ in range(2):
            assert (await first.post("/token", data=GRANT, auth=(target_id, "guess"))).status_code == 401
        assert_too_many(await first.post("/token", data=GRANT, auth=(target_id, "guess")), "for this client")
        # Over the limit, the client id is refused before its secret is looked at: even the right one.
        refused = await second.post("/token", data=GRANT, auth=(target_id, target.client_secret))
        assert_too_many(refused, "for this client")
        # Another client, from the address the guesses came from, is served.
        served = await first.post("/token", data=GRANT, auth=(other.client.client_id, other.client_secret))
        assert served.status_code == 200, served.text


async def test_failures_from_one_address_get_429_and_other_addresses_are_unaffected(start):
    identity = await start(token_failures_per_client="10/minute", token_failures_per_ip="2/minute")
    registration = await identity.register(["context:read"])
    credentials = (registration.client.client_id, registration.client_secret)
    async with from_address(identity, "192.0.2.1") as guesser, from_address(identity, "192.0.2.2") as honest:
        for number in range(2):  # a different made-up client id each time
            assert (await guesser.post("/token", data=GRANT, auth=(f"made-up-{number}", "guess"))).status_code == 401
        assert_too_many(await guesser.post("/token", data=GRANT, auth=("made-up-3", "guess")), "from this address")
        assert_too_many(await guesser.post("/token", data=GRANT, auth=credentials), "from this address")
        assert (await honest.post("/token", data=GRANT, auth=credentials)).status_code == 200


async def test_successful_requests_are_not_counted(start):
    identity = await start(token_failures_per_client="1/minute", token_failures_per_ip="1/minute")
    registration = await identity.register(["context:read"])
    credentials = (registration.client.client_id, registration.client_secret)
    for _ in range(5):
        assert (await identity.http.post("/token", data=GRANT, auth=credentials)).status_code == 200
    # Five successes left the one allowed failure untouched; the next failure is one too many.
    assert (await identity.http.post("/token", data=GRANT, auth=(credentials[0], "guess"))).status_code == 401
    assert_too_many(await identity.http.post("/token", data=GRANT, auth=(credentials[0], "guess")), "for this client")
    assert_too_many(await identity.http.post("/token", data=GRANT, auth=credentials), "for this client")


async def test_introspection_and_revocation_failures_count_too(start):
    identity = await start(token_failures_per_client="10/minute", token_failures_per_ip="2/minute")
    registration = await identity.register(["context:read"])
    credentials = (registration.client.client_id, registration.client_secret)
    wrong = (credentials[0], "guess")
    assert (await identity.http.post("/introspect", data={"token": "t"}, auth=wrong)).status_code == 401
    # client_secret_post is counted under the client id it names as well.
    posted = {"token": "t", "client_id": credentials[0], "client_secret": "guess"}
    assert (await identity.http.post("/revoke", data=posted)).status_code == 401
    assert_too_many(await identity.http.post("/introspect", data={"token": "t"}, auth=wrong), "from this address")
    assert_too_many(await identity.http.post("/introspect", data={"token": "t"}, auth=credentials), "from this address")
    assert_too_many(await identity.http.post("/token", data=GRANT, auth=credentials), "from this address")


async def test_behind_a_trusted_proxy_the_forwarded_address_is_limited(start):
    identity = await start(token_failures_per_ip="1/minute", trusted_proxies="10.0.0.0/8")
    registration = await identity.register(["context:read"])
    credentials = (registration.client.client_id, registration.client_secret)
    async with from_address(identity, "10.1.2.3") as proxy:
        guesser = {"X-Forwarded-For": "203.0.113.7"}
        assert (await proxy.post("/token", data=GRANT, auth=("x", "guess"), headers=guesser)).status_code == 401
        assert_too_many(await proxy.post("/token", data=GRANT, auth=("y", "guess"), headers=guesser), "address")
        # The proxy itself, and the other people behind it, are not held up.
        honest = {"X-Forwarded-For": "203.0.113.8"}
        assert (await proxy.post("/token", data=GRANT, auth=credentials, headers=honest)).status_code == 200


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("198.51.100.1", "203.0.113.7", "198.51.100.1"),  # an untrusted peer cannot claim another address
        ("10.0.0.1", "203.0.113.7", "203.0.113.7"),
        ("10.0.0.1", "203.0.113.7, 10.0.0.2", "203.0.113.7"),  # two proxies in a row
        ("10.0.0.1", "1.1.1.1, 203.0.113.7", "203.0.113.7"),  # what the client prepended is not believed
        ("10.0.0.1", "not-an-address", "10.0.0.1"),
        ("10.0.0.1", "", "10.0.0.1"),
    ],
)
def test_the_client_address_honours_only_trusted_proxies(peer, forwarded, expected):
    failures = ClientAuthFailures(per_client="1/minute", per_ip="1/minute", trusted_proxies=["10.0.0.0/8"])
    assert failures.client_ip(peer, {"x-forwarded-for": forwarded}) == expected


def test_a_limit_expires_when_its_window_has_room_again():
    now = [1000.0]
    failures = ClientAuthFailures(per_client="1/minute", per_ip="100/minute", clock=lambda: now[0])
    assert failures.failed("client", "192.0.2.1") is None
    wait, kind = failures.failed("client", "192.0.2.1")
    assert kind == "client" and failures.retry_after("client", "192.0.2.1") == (wait, "client")
    assert failures.retry_after("another", "192.0.2.1") is None
    now[0] += wait
    assert failures.retry_after("client", "192.0.2.1") is None
