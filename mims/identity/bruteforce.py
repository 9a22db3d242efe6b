"""Brute-force protection for client authentication at ``/token``, ``/introspect`` and ``/revoke``.

Failed client authentications (the endpoint answered ``invalid_client``, 401) are counted per
presented ``client_id`` and per client IP address with the kit's moving-window
:class:`~mims.kit.ratelimit.RateLimit` (settings ``token_failures_per_client`` and
``token_failures_per_ip``). The failure that goes over a limit is answered 429, and from then
until the window has room again every request for that client id or from that address is
answered 429 with ``Retry-After`` *before* any secret is checked, so a guesser cannot make the
server spend argon2 time either. Successful requests are never counted: normal load, however
high, is never limited.

The 429 is RFC 9457 problem details, as every 429 of the platform: RFC 6749 section 5.2 has no
error code for "too many attempts" (its codes say what is wrong with a request, and here the
request is not looked at), and OAuth clients act on the status and ``Retry-After`` (RFC 6585).

The client address is the TCP peer (``request.client.host``). Behind a reverse proxy the peer
is the proxy, so list it in ``trusted_proxies``: then ``X-Forwarded-For`` is read from the
right, and the first address not among the trusted proxies is the client. Without trusted
proxies the header is ignored, since any client can send it.

Per-client limits let anyone who knows a client id hold that client up for the window; the
secret cannot be checked first without giving up the protection, so keep client ids out of
public view and the window short.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import TypeVar

from authlib.oauth2.rfc6749.util import extract_basic_authorization
from cachetools import TLRUCache
from fastapi import Request
from starlette.responses import Response

from mims.kit.ratelimit import RateLimit, too_many_requests

R = TypeVar("R", bound=Response)

#: Bound on the addresses and client ids remembered as over their limit at one time.
MAX_BLOCKED = 100_000


class ClientAuthFailures:
    """Counts failed client authentications; says who must wait, and how long."""

    def __init__(
        self,
        *,
        per_client: str,
        per_ip: str,
        trusted_proxies: Iterable[str] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"client": RateLimit(per_client), "ip": RateLimit(per_ip)}
        self._proxies = [ip_network(proxy, strict=False) for proxy in trusted_proxies]
        # (kind, key) -> when the moving window next has room; RateLimit counts, this remembers
        # who went over, so they can be refused without counting or checking anything. An entry
        # lives until that moment; beyond MAX_BLOCKED the least recently used go first.
        self._blocked: TLRUCache[tuple[str, str], float] = TLRUCache(
            MAX_BLOCKED, lambda _key, until, _now: until, timer=clock
        )
        self._lock = threading.Lock()  # a TLRUCache is not thread-safe
        self._clock = clock

    def client_ip(self, peer: str | None, headers: Mapping[str, str]) -> str:
        """The client's address: the peer, or what trusted proxies forwarded (module docstring)."""
        if peer is None:
            return "unknown"
        if not self._proxies:
            return peer
        address = _address(peer)
        if address is None or not self._trusted(address):
            return peer
        forwarded = [hop.strip() for hop in headers.get("x-forwarded-for", "").split(",") if hop.strip()]
        for hop in reversed(forwarded):
            hop_address = _address(hop)
            if hop_address is None:
                break  # garbage from an untrusted party: keep the last address a proxy vouched for
            address = hop_address
            if not self._trusted(address):
                break
        return str(address)

    def retry_after(self, client_id: str | None, ip: str) -> tuple[int, str] | None:
        """Seconds to wait and why, if ``client_id`` or ``ip`` is over its limit; counts nothing."""
        now = self._clock()
        with self._lock:
            for kind, key in self._keys(client_id, ip):
                until = self._blocked.get((kind, key))
                if until is not None and until > now:
                    return math.ceil(until - now), kind
        return None

    def failed(self, client_id: str | None, ip: str) -> tuple[int, str] | None:
        """Count one failed authentication; seconds to wait and why if that went over a limit."""
        over = None
        for kind, key in self._keys(client_id, ip):
            wait = self._limits[kind].hit(kind, key)
            if wait is not None:
                self._block(kind, key, wait)
                over = over or (wait, kind)
        return over

    def _keys(self, client_id: str | None, ip: str) -> list[tuple[str, str]]:
        return [("client", client_id), ("ip", ip)] if client_id else [("ip", ip)]

    def _block(self, kind: str, key: str, wait: int) -> None:
        with self._lock:
            self._blocked[(kind, key)] = self._clock() + wait

    def _trusted(self, address: IPv4Address | IPv6Address) -> bool:
        return any(address in network for network in self._proxies)


def presented_client_id(headers: Mapping[str, str], form: Mapping[str, str]) -> str | None:
    """The client id a request authenticates as: HTTP Basic user, else the ``client_id`` field."""
    try:
        client_id, _ = extract_basic_authorization(headers)
    except UnicodeDecodeError:
        client_id = None
    return client_id or form.get("client_id") or None


async def guarded(request: Request, form: Mapping[str, str], respond: Callable[[], Awaitable[R]]) -> R:
    """``respond()`` unless the caller is over a failure limit; counts the response if it is 401.

    Raises the RFC 9457 429 problem (with ``Retry-After``) instead of responding when the client
    id or address is over its limit, or when this failure took it over.
    """
    failures: ClientAuthFailures = request.app.state.client_auth_failures
    ip = failures.client_ip(request.client.host if request.client else None, request.headers)
    client_id = presented_client_id(request.headers, form)
    waiting = failures.retry_after(client_id, ip)
    if waiting is None:
        response = await respond()
        if response.status_code != 401:
            return response
        waiting = failures.failed(client_id, ip)
        if waiting is None:
            return response
    seconds, kind = waiting
    what = "for this client" if kind == "client" else "from this address"
    raise too_many_requests(
        seconds, f"too many failed client authentications {what}; retry after {seconds} seconds"
    )


def _address(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text)
    except ValueError:
        return None
