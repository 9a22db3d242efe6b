"""Data-access grants: what a client may read through contracts, beyond the scopes in its token.

The marketplace turns a finalized agreement into an access grant (PPI ``access-grant@1.0.0``):
"client X (user U) may read entity types Z of dataset Y, narrowed by q and a geo-query, between
these times, N more times". The gateway asks a :class:`GrantSource` when a token alone lacks a
route's scopes. :class:`MarketplaceGrants` asks the marketplace (``GET /grants?client_id=``) and
takes counted uses from it (``POST /grants/uses``); :class:`NoGrants` grants nothing. Answers are
cached per (client, subject) by :class:`CachedGrants` for a short TTL, so a busy client costs one
lookup per TTL and a withdrawn grant stops working within it (at once, for a counted one: the
marketplace refuses the use).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import orjson
from cachetools import TTLCache

import ppi_schemas

logger = logging.getLogger("gateway.grants")

PPI = "access-grant@1.0.0"
#: Who the gateway says it is when it calls the marketplace (read there when auth is off).
AS_GATEWAY = {"X-OUP-Client-Id": "gateway", "X-OUP-Scope": "marketplace:grants"}


class GrantsUnavailable(Exception):
    """The grant source could not be asked; the message says why."""


class UseRefused(Exception):
    """The marketplace refused a use of a grant: ``reason`` is exhausted, withdrawn, expired or
    not_yet_valid; ``detail`` its explanation."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class GeoQuery:
    """An NGSI-LD geo-query (ETSI GS CIM 009 4.10); ``coordinates`` as the JSON text sent upstream."""

    georel: str
    geometry: str
    coordinates: str
    geoproperty: str | None = None

    def parameters(self) -> list[tuple[str, str]]:
        found = [("georel", self.georel), ("geometry", self.geometry), ("coordinates", self.coordinates)]
        return found + ([("geoproperty", self.geoproperty)] if self.geoproperty else [])


@dataclass(frozen=True, slots=True)
class Grant:
    """``scopes`` granted for ``dataset``, limited to ``entity_types`` unless that is None.

    Grants from the marketplace carry the rest of the access-grant PPI: who (``client_id``,
    ``subject``), the query narrowing (``q``, ``geo``), validity (``not_before``, ``not_after``),
    ``remaining`` uses (None: unlimited) and ``status``.
    """

    dataset: str
    scopes: frozenset[str]
    entity_types: frozenset[str] | None = None
    grant_id: str | None = None
    agreement_id: str | None = None
    client_id: str | None = None
    subject: str | None = None
    q: str | None = None
    geo: GeoQuery | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    remaining: int | None = None
    status: str = "active"

    @classmethod
    def from_ppi(cls, document: dict[str, Any]) -> Grant:
        """The grant in an access-grant@1.0.0 ``document`` (already valid against the PPI)."""
        query = document["query"]
        geo = query.get("geo")
        return cls(
            dataset=document["dataset"],
            scopes=frozenset(document["scopes"]),
            entity_types=frozenset(query["entity_types"]),
            grant_id=document["grant_id"],
            agreement_id=document["agreement_id"],
            client_id=document["client_id"],
            subject=document.get("subject"),
            q=query.get("q"),
            geo=GeoQuery(geo["georel"], geo["geometry"], orjson.dumps(geo["coordinates"]).decode(),
                         geo.get("geoproperty")) if geo else None,
            not_before=_instant(document["not_before"]),
            not_after=_instant(document["not_after"]) if document["not_after"] else None,
            remaining=document["remaining"],
            status=document["status"],
        )

    @property
    def narrows(self) -> bool:
        """True if the grant adds a q filter or a geo-query to the caller's query."""
        return self.q is not None or self.geo is not None

    @property
    def counted(self) -> bool:
        """True if every use must be taken from the marketplace first."""
        return self.remaining is not None

    def covers(self, scopes: Iterable[str], entity_types: Iterable[str], *, subject: str | None = None,
               at: datetime | None = None) -> bool:
        """True if this grant alone gives every one of ``scopes`` for every one of ``entity_types``
        to the user ``subject`` at ``at`` (default: now).

        A grant limited to entity types covers only requests that name types, all of them its own;
        one limited to a subject only that user; a withdrawn, not yet or no longer valid, or used up
        grant nothing.
        """
        return self.unusable(subject=subject, at=at) is None and self.opens(scopes, entity_types)

    def opens(self, scopes: Iterable[str], entity_types: Iterable[str]) -> bool:
        """Whether the grant is for ``scopes`` and ``entity_types``, whether or not usable now."""
        if not set(scopes) <= self.scopes:
            return False
        if self.entity_types is None:
            return True
        types = set(entity_types)
        return bool(types) and types <= self.entity_types

    def unusable(self, *, subject: str | None = None, at: datetime | None = None) -> str | None:
        """Why ``subject`` cannot use the grant at ``at`` (``withdrawn``, ``exhausted``,
        ``not_yet_valid``, ``expired``, ``other_subject``), or None when it can."""
        if self.status != "active":
            return "withdrawn"
        if self.remaining == 0:
            return "exhausted"
        if self.subject is not None and subject != self.subject:
            return "other_subject"
        now = at or datetime.now(UTC)
        if self.not_before is not None and now < self.not_before:
            return "not_yet_valid"
        if self.not_after is not None and now >= self.not_after:
            return "expired"
        return None


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


class GrantSource(Protocol):
    """Where grants come from (the marketplace's contracts)."""

    async def grants(self, client_id: str, subject: str) -> list[Grant]: ...

    async def use(self, grant: Grant) -> int | None:
        """Take one use of a counted ``grant``; the uses left (None: unlimited). Raises
        :class:`UseRefused` or :class:`GrantsUnavailable`."""
        ...


class NoGrants:
    """The default source: tokens alone decide."""

    async def grants(self, client_id: str, subject: str) -> list[Grant]:
        return []

    async def use(self, grant: Grant) -> int | None:
        raise GrantsUnavailable("no grant source is configured")


class MarketplaceGrants:
    """Grants from the marketplace MIM at ``base_url``, asked with ``client``."""

    def __init__(self, base_url: str, client: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client

    async def grants(self, client_id: str, subject: str) -> list[Grant]:
        """The client's active grants; an answer that is not access-grant@1.0.0 is skipped and
        logged. Raises :class:`GrantsUnavailable` when the marketplace gives no usable answer."""
        try:
            response = await self.client.get(f"{self.base_url}/grants", params={"client_id": client_id},
                                             headers=AS_GATEWAY)
        except httpx.HTTPError as error:
            raise GrantsUnavailable(f"the marketplace could not be reached ({type(error).__name__})") from None
        if response.status_code != 200:
            raise GrantsUnavailable(f"the marketplace answered {response.status_code} to the grants query")
        try:
            documents = orjson.loads(response.content)["grants"]
            assert isinstance(documents, list)
        except (orjson.JSONDecodeError, KeyError, TypeError, AssertionError):
            raise GrantsUnavailable("the marketplace's grants answer is not {\"grants\": [...]}") from None
        found = []
        for index, document in enumerate(documents):
            if not ppi_schemas.is_valid(document, PPI):
                problems = ppi_schemas.validate(document, PPI)
                logger.warning("grant %d for client %s skipped: not %s: %s", index, client_id, PPI,
                               "; ".join(f"{p.pointer or '/'}: {p.message}" for p in problems[:3]))
                continue
            if document["client_id"] != client_id:
                logger.warning("grant %s skipped: it is for client %s, not %s", document["grant_id"],
                               document["client_id"], client_id)
                continue
            found.append(Grant.from_ppi(document))
        return found

    async def use(self, grant: Grant) -> int | None:
        """Take one use of ``grant`` at the marketplace (atomically there); the uses left."""
        try:
            response = await self.client.post(f"{self.base_url}/grants/uses", headers=AS_GATEWAY,
                                              json={"grant_id": grant.grant_id, "uses": 1})
        except httpx.HTTPError as error:
            raise GrantsUnavailable(f"the marketplace could not be reached to count this use "
                                    f"({type(error).__name__})") from None
        answer = _json_object(response)
        if response.status_code == 200:
            remaining = answer.get("remaining")
            return remaining if isinstance(remaining, int) else None
        if response.status_code == 403:
            reason = answer.get("reason") if isinstance(answer.get("reason"), str) else "withdrawn"
            detail = answer.get("detail") if isinstance(answer.get("detail"), str) else f"the grant is {reason}"
            raise UseRefused(reason, detail)
        if response.status_code == 404:
            raise UseRefused("withdrawn", f"the marketplace no longer knows grant {grant.grant_id}")
        raise GrantsUnavailable(f"the marketplace answered {response.status_code} when counting this use")


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        answer = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return answer if isinstance(answer, dict) else {}


def grant_source(marketplace_url: str | None, client: httpx.AsyncClient) -> GrantSource:
    """The marketplace's grants when a marketplace is configured, else none."""
    return MarketplaceGrants(marketplace_url, client) if marketplace_url else NoGrants()


class CachedGrants:
    """A :class:`GrantSource` remembering each (client, subject)'s answer for ``ttl`` seconds.
    A failure to ask is not remembered."""

    def __init__(self, source: GrantSource, *, ttl: float, maxsize: int = 10_000) -> None:
        self.source = source
        self._cache: TTLCache[tuple[str, str], list[Grant]] | None = (
            TTLCache(maxsize=maxsize, ttl=ttl) if ttl > 0 else None
        )

    async def grants(self, client_id: str, subject: str) -> list[Grant]:
        if self._cache is None:
            return await self.source.grants(client_id, subject)
        key = (client_id, subject)
        found = self._cache.get(key)
        if found is None:
            found = await self.source.grants(client_id, subject)
            self._cache[key] = found
        return found

    async def use(self, grant: Grant) -> int | None:
        return await self.source.use(grant)

    def forget(self, client_id: str) -> None:
        """Drop what is remembered for ``client_id`` (every subject): its grants changed."""
        if self._cache is not None:
            for key in [key for key in self._cache if key[0] == client_id]:
                self._cache.pop(key, None)
