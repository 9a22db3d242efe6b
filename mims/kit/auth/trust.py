"""Trust between cities: the foreign token issuers a city accepts (PPI ``trust-list``).

A trusted issuer is named by its exact ``iss``; its tokens are verified only with the keys at
its own ``jwks_uri``, accepted only for its ``allowed_audiences`` and until ``valid_until``, and
grant only the platform scopes its ``scope_map`` maps their scopes to. Documents are checked
against the PPI (any 1.x version) plus what JSON Schema cannot say: each issuer at most once.

Sources: a file (:class:`TrustListFile`, re-read when it changes) or the trust list an identity
MIM publishes (:class:`TrustListUrl`). A source that fails to reload keeps its last good list.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import httpx

import ppi_schemas
from mims.kit.auth.rfc7517 import KeySetUnavailable

__all__ = [
    "PPI",
    "InvalidTrustList",
    "TrustList",
    "TrustListFile",
    "TrustListUnavailable",
    "TrustListUrl",
    "TrustSource",
    "TrustedIssuer",
    "check_trust_list",
]

#: Documents are validated against the newest 1.x version, which accepts every older 1.x one.
PPI = "trust-list@1"
#: RFC 9068 section 4: what a trusted issuer's tokens are typed when it does not say otherwise.
DEFAULT_ACCEPTED_TYP = ("at+jwt", "application/at+jwt")
#: Upper bound on a fetched trust list document.
MAX_TRUST_LIST_BYTES = 1024 * 1024

log = logging.getLogger(__name__)


class InvalidTrustList(ValueError):
    """A trust list document breaks the PPI; ``problems`` are ``(JSON pointer, message)`` pairs."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        listed = "; ".join(f"{pointer or '/'}: {message}" for pointer, message in problems)
        super().__init__(f"trust list {source} is invalid: {listed}")
        self.problems = problems


class TrustListUnavailable(KeySetUnavailable):
    """No trust list could be obtained yet: like missing keys, foreign tokens cannot be judged."""


@dataclass(frozen=True, eq=False)
class TrustedIssuer:
    """One entry of the trust list; ``document`` is the entry as given (for republishing)."""

    issuer: str
    jwks_uri: str
    scope_map: Mapping[str, tuple[str, ...]]
    allowed_audiences: tuple[str, ...]
    name: str | None = None
    valid_until: datetime | None = None
    accepted_typ: tuple[str, ...] = DEFAULT_ACCEPTED_TYP
    client_id_claim: str = "client_id"
    document: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_document(cls, entry: Mapping[str, Any]) -> TrustedIssuer:
        """An entry already valid under the PPI."""
        valid_until = entry.get("valid_until")
        return cls(
            issuer=entry["issuer"],
            jwks_uri=entry["jwks_uri"],
            scope_map={theirs: tuple(ours) for theirs, ours in entry["scope_map"].items()},
            allowed_audiences=tuple(entry["allowed_audiences"]),
            name=entry.get("name"),
            valid_until=_timestamp(valid_until) if valid_until is not None else None,
            accepted_typ=tuple(typ.lower() for typ in entry.get("accepted_typ", DEFAULT_ACCEPTED_TYP)),
            client_id_claim=entry.get("client_id_claim", "client_id"),
            document=dict(entry),
        )

    def trusted_at(self, moment: datetime) -> bool:
        return self.valid_until is None or moment < self.valid_until

    def platform_scopes(self, scopes: Iterable[str]) -> frozenset[str]:
        """The platform scopes their ``scopes`` grant; a scope not in the map grants nothing."""
        return frozenset(ours for theirs in scopes for ours in self.scope_map.get(theirs, ()))


@dataclass(frozen=True, eq=False)
class TrustList:
    """Trusted issuers by issuer identifier."""

    issuers: Mapping[str, TrustedIssuer] = field(default_factory=dict)

    @classmethod
    def from_document(cls, document: Any, source: str = "document") -> TrustList:
        """Raises :class:`InvalidTrustList` listing every problem."""
        problems = check_trust_list(document)
        if problems:
            raise InvalidTrustList(source, problems)
        return cls({entry["issuer"]: TrustedIssuer.from_document(entry) for entry in document["issuers"]})

    def get(self, issuer: str) -> TrustedIssuer | None:
        return self.issuers.get(issuer)

    def document(self) -> dict[str, Any]:
        """The PPI document listing these issuers."""
        return {"issuers": [dict(trusted.document) for trusted in self.issuers.values()]}


def check_trust_list(document: Any) -> list[tuple[str, str]]:
    """Every way ``document`` breaks the PPI, as ``(JSON pointer, message)``; empty if none."""
    if not ppi_schemas.is_valid(document, PPI):
        return [(problem.pointer, problem.message) for problem in ppi_schemas.validate(document, PPI)]
    seen: dict[str, int] = {}
    problems = []
    for index, entry in enumerate(document["issuers"]):
        first = seen.setdefault(entry["issuer"], index)
        if first != index:
            reason = f"issuer {entry['issuer']} is already listed at /issuers/{first}"
            problems.append((f"/issuers/{index}/issuer", reason))
    return problems


class TrustSource(Protocol):
    """Where a verifier gets the current trust list; ``current`` is called on every foreign token,
    so it must be cheap when nothing changed."""

    async def current(self) -> TrustList: ...

    async def aclose(self) -> None: ...


class TrustListFile:
    """A trust list file, read now (an invalid file fails at once) and re-read when it changes.

    The file's modification time and size are looked at no more often than every
    ``check_interval`` seconds; a change that makes it invalid is logged and the last good list
    kept, so an editing mistake cannot lock out every foreign token.
    """

    def __init__(self, path: Path, *, check_interval: float = 5.0) -> None:
        self._path = path
        self._check_interval = check_interval
        self._checked_at = time.monotonic()
        self._stamp = self._file_stamp()
        self._list = self._read()

    async def current(self) -> TrustList:
        if time.monotonic() - self._checked_at >= self._check_interval:
            self._checked_at = time.monotonic()
            try:
                stamp = self._file_stamp()
                if stamp != self._stamp:
                    self._list, self._stamp = self._read(), stamp
            except (OSError, ValueError) as exc:
                log.warning("trust list %s not reloaded, keeping the last good one: %s", self._path, exc)
        return self._list

    def reload(self) -> TrustList:
        """Read the file now; raises (and keeps the last good list) if it is missing or invalid."""
        stamp = self._file_stamp()
        self._list, self._stamp = self._read(), stamp
        return self._list

    async def aclose(self) -> None:
        """Nothing to release."""

    def _file_stamp(self) -> tuple[int, int]:
        status = self._path.stat()
        return status.st_mtime_ns, status.st_size

    def _read(self) -> TrustList:
        try:
            document = json.loads(self._path.read_bytes())
        except ValueError as exc:
            raise InvalidTrustList(str(self._path), [("", f"not JSON: {exc}")]) from None
        return TrustList.from_document(document, str(self._path))


class TrustListUrl:
    """The trust list an identity MIM publishes (``GET /trust-list``), re-read every ``ttl`` seconds.

    A failed fetch keeps the last good list and is retried no sooner than ``retry`` seconds later.
    """

    def __init__(
        self, url: str, *, ttl: float = 60, retry: float = 10, timeout: float = 5, http: httpx.AsyncClient | None = None
    ) -> None:
        self._url = url
        self._ttl = ttl
        self._retry = retry
        self._timeout = timeout
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout)
        self._lock = asyncio.Lock()
        self._list: TrustList | None = None
        self._fetched_at = -math.inf
        self._attempted_at = -math.inf
        self._last_error = ""

    async def current(self) -> TrustList:
        now = time.monotonic()
        if now - self._fetched_at >= self._ttl and now - self._attempted_at >= self._retry:
            await self._refresh()
        if self._list is None:
            raise TrustListUnavailable(f"trust list at {self._url} unavailable: {self._last_error}")
        return self._list

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._attempted_at < self._retry:
                return  # another request just fetched
            self._attempted_at = time.monotonic()
            try:
                self._list = TrustList.from_document(await self._fetch(), self._url)
            except (httpx.HTTPError, ValueError) as exc:
                self._last_error = str(exc) or type(exc).__name__
                log.warning("trust list fetch from %s failed: %s", self._url, self._last_error)
            else:
                self._fetched_at = self._attempted_at

    async def _fetch(self) -> Any:
        body = bytearray()
        async with self._http.stream(
            "GET", self._url, headers={"Accept": "application/json"}, timeout=self._timeout
        ) as response:
            response.raise_for_status()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_TRUST_LIST_BYTES:
                    raise ValueError(f"trust list larger than {MAX_TRUST_LIST_BYTES} bytes")
        return json.loads(body)


def _timestamp(text: str) -> datetime:
    # RFC 3339 (checked by the PPI); "Z" is accepted by fromisoformat since Python 3.11.
    moment = datetime.fromisoformat(text.upper())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
